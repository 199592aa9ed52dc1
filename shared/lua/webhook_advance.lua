-- webhook_advance.lua: record that an event was delivered, while the claim is still ours.
-- KEYS[1] webhook_claim (the account's)  KEYS[2] webhook_cursor (its cursor)
-- ARGV[1] claimant  ARGV[2] event_id (of the event delivered)
-- ARGV[3] hold_seconds (the claim's)  ARGV[4] keep_seconds: how long the cursor is kept
-- Returns 1, or 0 when the claim was lost (another job delivers from now on: stop).
-- Invariant: the cursor only moves forward, and only for the claim's holder.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('EXPIRE', KEYS[1], ARGV[3])
local function parts(id)
  local ms, seq = string.match(id or '', '^(%d+)-(%d+)$')
  return tonumber(ms or '-1'), tonumber(seq or '-1')
end
local new_ms, new_seq = parts(ARGV[2])
local old_ms, old_seq = parts(redis.call('GET', KEYS[2]))
if new_ms > old_ms or (new_ms == old_ms and new_seq > old_seq) then
  redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[4])
end
return 1
