-- return_mail_token.lua: give back a token of the global mail bucket taken for a send that a
-- worker then did not make (its claim answered done, busy, stale or expired).
-- KEYS[1] bucket (HASH tokens, at_ms)  ARGV[1] burst (bucket size)
-- Returns 1 when the token went back, 0 when the bucket was gone (full again by itself).
-- Invariant: the bucket never holds more than burst tokens.
local tokens = tonumber(redis.call('HGET', KEYS[1], 'tokens'))
if not tokens then return 0 end
redis.call('HSET', KEYS[1], 'tokens', tostring(math.min(tonumber(ARGV[1]), tokens + 1)))
return 1
