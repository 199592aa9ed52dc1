-- webhook_claim.lua: one delivery job at a time per account, so its events go out in order.
-- KEYS[1] webhook_claim (the account's)  KEYS[2] webhook_again (its "look again" flag)
-- ARGV[1] claimant (the delivery job's id: the same on each retry of that job)
-- ARGV[2] hold_seconds: how long the claim holds
-- Returns "claimed" (also when the claimant already held it: the hold is renewed) | "busy"
-- Invariant: a job that finds the claim taken leaves the flag, in the same step, so the
-- holder reads the stream once more before it lets go (webhook_release.lua): no event
-- written before a busy job ran can be left behind when both have finished.
local holder = redis.call('GET', KEYS[1])
if not holder or holder == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
  return 'claimed'
end
redis.call('SET', KEYS[2], '1', 'EX', 86400)
return 'busy'
