-- set_two_step.lua: the account settings' "Enable two-step verification" checkbox, applied.
-- KEYS[1] profile  KEYS[2] browsers  KEYS[3] browser-expiry
-- ARGV[1] "1" to enable, "0" to disable  ARGV[2] now (epoch s)
-- Returns {"not_found"} | {"ok", changed (1|0), email, locale}
-- Invariant: two-step off means no trusted browser survives; they go in the same step.
local current = redis.call('HMGET', KEYS[1], 'two_step', 'email', 'locale')
if not current[2] then return {'not_found'} end
local changed = 0
if current[1] ~= ARGV[1] then
  changed = 1
  redis.call('HSET', KEYS[1], 'two_step', ARGV[1], 'updated_at', ARGV[2])
end
if ARGV[1] == '0' then redis.call('DEL', KEYS[2], KEYS[3]) end
return {'ok', changed, current[2], current[3]}
