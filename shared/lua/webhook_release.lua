-- webhook_release.lua: let go of an account's webhook claim, unless a job came meanwhile.
-- KEYS[1] webhook_claim (the account's)  KEYS[2] webhook_again (its "look again" flag)
-- ARGV[1] claimant  ARGV[2] hold_seconds (the claim's)
-- Returns "released" | "again" (a busy job left the flag: read the stream once more; the
-- claim is kept) | "lost" (it had expired and another job holds it)
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 'lost' end
if redis.call('DEL', KEYS[2]) == 1 then
  redis.call('EXPIRE', KEYS[1], ARGV[2])
  return 'again'
end
redis.call('DEL', KEYS[1])
return 'released'
