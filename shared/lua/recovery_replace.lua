-- recovery_replace.lua: replace an account's recovery codes with a new set.
-- KEYS[1] profile  KEYS[2] recovery  KEYS[3] recovery_used (the old set's used codes' digests)
-- ARGV[1..] digests... (of the new codes; then the audit's five)
-- KEYS[last] audit stream; ARGV[last 5] audit cap, keep s, time, ip, request id (see _audit.lua)
-- Returns {"not_found"} | {"ok"}
-- Invariant: the old set dies in the same step the new one is stored, with the record of
-- its used codes (an old code is then wrong, not "already used").
local profile = redis.call('HMGET', KEYS[1], 'email', 'locale')
if not profile[1] then return {'not_found'} end
redis.call('DEL', KEYS[2], KEYS[3])
for i = 1, #ARGV - 5 do redis.call('HSET', KEYS[2], ARGV[i], '1') end
audit('recovery_codes_created', 'count', #ARGV - 5)
return {'ok'}
