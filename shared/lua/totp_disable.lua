-- totp_disable.lua: remove an account's authenticator app.
-- KEYS[1] profile  KEYS[2] totp
-- (no ARGV but the audit's)
-- KEYS[last] audit stream; ARGV[last 5] audit cap, keep s, time, ip, request id (see _audit.lua)
-- Returns {"not_found"} | {"ok", changed}  (changed: 1 when TOTP was on)
-- Invariant: the secret and the flag go together; nothing of the app is left behind.
local profile = redis.call('HMGET', KEYS[1], 'email', 'locale', 'totp')
if not profile[1] then return {'not_found'} end
redis.call('DEL', KEYS[2])
redis.call('HSET', KEYS[1], 'totp', '0')
if profile[3] == '1' then audit('totp_disabled') end
return {'ok', profile[3] == '1' and 1 or 0}
