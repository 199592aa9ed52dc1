-- set_two_step.lua: the account settings' "Enable two-step verification" checkbox, applied.
-- KEYS[1] profile  KEYS[2] browsers  KEYS[3] browser-expiry
-- ARGV[1] "1" to enable, "0" to disable  ARGV[2] now (epoch s)
-- KEYS[last] audit stream; ARGV[last 5] audit cap, keep s, time, ip, request id (see _audit.lua)
-- Returns {"not_found"} | {"ok", changed (1|0), email, locale}
-- Invariant: two-step off means no trusted browser survives; they go in the same step.
local current = redis.call('HMGET', KEYS[1], 'two_step', 'email', 'locale')
if not current[2] then return {'not_found'} end
local changed = 0
if current[1] ~= ARGV[1] then
  changed = 1
  redis.call('HSET', KEYS[1], 'two_step', ARGV[1], 'updated_at', ARGV[2])
end
local revoked = 0
if ARGV[1] == '0' then
  revoked = redis.call('ZCARD', KEYS[3])
  redis.call('DEL', KEYS[2], KEYS[3])
end
if changed == 1 then
  audit(ARGV[1] == '1' and 'two_step_enabled' or 'two_step_disabled', 'browsers_revoked', revoked)
end
return {'ok', changed, current[2], current[3]}
