-- revoke_browsers.lua: forget one trusted browser, or all of them, of an account.
-- KEYS[1] browsers  KEYS[2] browser_expiry
-- ARGV[1] browser_id, or "" for all of them
-- KEYS[last] audit stream; ARGV[last 5] audit cap, keep s, time, ip, request id (see _audit.lua)
-- Returns the number of browsers forgotten.
-- Invariant: a revoked browser's token fails from the next login on; the record and its
-- expiry go together.
local removed = 0
if ARGV[1] ~= '' then
  removed = redis.call('HDEL', KEYS[1], ARGV[1])
  redis.call('ZREM', KEYS[2], ARGV[1])
  if removed == 1 then audit('trusted_browser_revoked', 'browser', ARGV[1]) end
else
  removed = redis.call('HLEN', KEYS[1])
  redis.call('DEL', KEYS[1], KEYS[2])
  if removed > 0 then audit('trusted_browser_revoked', 'browser', '*', 'count', removed) end
end
return removed
