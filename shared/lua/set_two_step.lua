-- set_two_step.lua: the account settings' "Enable two-step verification" checkbox, applied.
-- KEYS[1] profile  KEYS[2] browsers  KEYS[3] browser_expiry
-- KEYS[4] challenges (short ids of challenges that mailed nothing)  KEYS[5] sends (send log)
-- KEYS[6] webauthn  KEYS[7] webauthn_use (the account's security keys and their use)
-- ARGV[1] enabled: "1" to enable, "0" to disable  ARGV[2] now (epoch s)
-- ARGV[3] challenge_prefix: the key prefix of the account's challenges (shared/keys.py)
-- KEYS[last] audit stream; ARGV[last 5] audit cap, keep s, time, ip, request id (see _audit.lua)
-- Returns {"not_found"} | {"ok", changed}  (changed: 1, or 0 when it was so already)
-- Invariant: two-step off means no trusted browser, no security key and no open challenge
-- survives (an app and recovery codes stay, for when it is turned on again); they go
-- in the same step, so a code asked for before "off" cannot sign in (or remember a browser)
-- after two-step is turned on again. The send log stays: it is the hourly email cap.
local current = redis.call('HMGET', KEYS[1], 'two_step', 'email', 'locale')
if not current[2] then return {'not_found'} end
local changed = 0
if current[1] ~= ARGV[1] then
  changed = 1
  redis.call('HSET', KEYS[1], 'two_step', ARGV[1], 'updated_at', ARGV[2])
end
local revoked, keys = 0, 0
if ARGV[1] == '0' then
  revoked = redis.call('ZCARD', KEYS[3])
  keys = redis.call('HLEN', KEYS[6])
  redis.call('DEL', KEYS[2], KEYS[3], KEYS[6], KEYS[7])
  for _, id in ipairs(redis.call('HKEYS', KEYS[4])) do redis.call('DEL', ARGV[3] .. id) end
  for _, entry in ipairs(redis.call('ZRANGE', KEYS[5], 0, -1)) do
    redis.call('DEL', ARGV[3] .. string.match(entry, '^(.*):%d+$'))
  end
  redis.call('DEL', KEYS[4])
end
if changed == 1 then
  if ARGV[1] == '1' then audit('two_step_enabled', 'browsers_revoked', revoked)
  else audit('two_step_disabled', 'browsers_revoked', revoked, 'security_keys_removed', keys) end
end
return {'ok', changed}
