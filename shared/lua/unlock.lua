-- unlock.lua: support staff lift an account's lock and forget its back-off.
-- KEYS[1] profile  KEYS[2] guard
-- ARGV[1] now (epoch s)
-- KEYS[last] audit stream; ARGV[last 5] audit cap, keep s, time, ip, request id (see _audit.lua)
-- Returns {"not_found"} | {"ok", changed}  (changed: 1 when it was locked, else 0)
-- Invariant: the failure count and the lock history go with the lock, so the next wrong
-- code starts from zero and the next lock is the shortest one again.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_found'} end
local locked_until = tonumber(redis.call('HGET', KEYS[2], 'locked_until') or '0')
local was_locked = locked_until > tonumber(ARGV[1]) and 1 or 0
redis.call('DEL', KEYS[2])
audit('account_unlocked', 'was_locked', was_locked)
return {'ok', was_locked}
