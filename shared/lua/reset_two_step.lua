-- reset_two_step.lua: support staff reset an account's two-step verification, for a user
-- who lost their devices: two-step off, authenticator app, security keys, recovery codes and
-- trusted browsers gone.
-- KEYS[1] profile  KEYS[2] totp  KEYS[3] recovery  KEYS[4] browsers  KEYS[5] browser_expiry
-- KEYS[6] challenges (short ids of challenges that mailed nothing)  KEYS[7] sends (send log)
-- KEYS[8] webauthn  KEYS[9] webauthn_use (the account's security keys and their use)
-- ARGV[1] now (epoch s)  ARGV[2] challenge_prefix: the key prefix of the account's challenges
-- KEYS[last] audit stream; ARGV[last 5] audit cap, keep s, time, ip, request id (see _audit.lua)
-- Returns {"not_found"} | {"ok"}
-- Invariant: all of it in one step: no login can find the account half reset, and no
-- challenge opened before the reset can still be answered after it (its code would sign in,
-- and could even remember a browser, after the owner was told every way in was removed).
-- The send log stays: it is the hourly email cap.
local profile = redis.call('HMGET', KEYS[1], 'email', 'locale', 'two_step', 'totp')
if not profile[1] then return {'not_found'} end
local browsers = redis.call('ZCARD', KEYS[5])
local recovery = redis.call('HLEN', KEYS[3])
local keys = redis.call('HLEN', KEYS[8])
redis.call('HSET', KEYS[1], 'two_step', '0', 'totp', '0', 'updated_at', ARGV[1])
redis.call('DEL', KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[8], KEYS[9])
for _, id in ipairs(redis.call('HKEYS', KEYS[6])) do redis.call('DEL', ARGV[2] .. id) end
for _, entry in ipairs(redis.call('ZRANGE', KEYS[7], 0, -1)) do
  redis.call('DEL', ARGV[2] .. string.match(entry, '^(.*):%d+$'))
end
redis.call('DEL', KEYS[6])
audit('two_step_reset', 'was_enabled', profile[3] == '1' and 1 or 0,
  'totp_removed', profile[4] == '1' and 1 or 0, 'recovery_codes_removed', recovery,
  'browsers_revoked', browsers, 'security_keys_removed', keys)
return {'ok'}
