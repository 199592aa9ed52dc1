-- recovery_replace.lua: replace an account's recovery codes with a new set.
-- KEYS[1] profile  KEYS[2] recovery  KEYS[3] recovery-used (digests of the old set's used codes)
-- ARGV[1..n-5] the digests of the new codes
-- KEYS[last] audit stream; ARGV[last 5] audit cap, keep s, time, ip, request id (see _audit.lua)
-- Returns {"not_found"} | {"ok", email, locale}
-- Invariant: the old set dies in the same step the new one is stored, with the record of
-- its used codes (an old code is then wrong, not "already used").
local profile = redis.call('HMGET', KEYS[1], 'email', 'locale')
if not profile[1] then return {'not_found'} end
redis.call('DEL', KEYS[2], KEYS[3])
for i = 1, #ARGV - 5 do redis.call('HSET', KEYS[2], ARGV[i], '1') end
audit('recovery_codes_created', 'count', #ARGV - 5)
return {'ok', profile[1], profile[2]}
