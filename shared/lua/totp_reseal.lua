-- totp_reseal.lua: store an active TOTP secret sealed under the current key.
-- KEYS[1] totp
-- ARGV[1] old: the sealed secret as read
-- ARGV[2] new: the same secret sealed under the current key
-- Returns 1 when replaced, 0 when the secret changed meanwhile (re-enrolled or removed).
-- Invariant: a rotation never overwrites a secret that a confirmation replaced.
if redis.call('HGET', KEYS[1], 'sealed') ~= ARGV[1] then return 0 end
redis.call('HSET', KEYS[1], 'sealed', ARGV[2])
return 1
