-- claim_notice.lua: may this worker send a notice email?
-- KEYS[1] marker (the notice's)
-- ARGV[1] claimant (worker id)  ARGV[2] hold_seconds: how long the claim holds
-- Returns "send" | "done" | "busy"
-- Invariant: a notice marked sent is never sent again; one claimant at a time.
local value = redis.call('GET', KEYS[1])
if value == 'sent' then return 'done' end
if value and value ~= ARGV[1] then return 'busy' end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 'send'
