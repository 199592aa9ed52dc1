-- A right password: forget the account's failures, and take this attempt off the IP's count.
-- KEYS[1]: the account's counter; KEYS[2]: the client IP's (hashes: count, until_ms).
-- ARGV: none. Returns 1.
-- Invariant: the IP's count never goes below zero and never outlives its TTL (a missing key
-- is not created), so people signing in well from one address do not block each other.
redis.call('DEL', KEYS[1])
local count = tonumber(redis.call('HGET', KEYS[2], 'count') or '0')
if count > 0 then
  redis.call('HINCRBY', KEYS[2], 'count', -1)
end
return 1
