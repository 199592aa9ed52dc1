-- totp_enrol.lua: keep a new, not yet confirmed authenticator secret for an account.
-- KEYS[1] profile  KEYS[2] totp
-- ARGV[1] sealed: the secret  ARGV[2] pending_until (epoch s)
-- ARGV[3] keep_seconds: how long to keep it
-- Returns {"not_found"} | {"ok"}
-- Invariant: a pending secret never replaces the active one; only confirmation does.
if redis.call('EXISTS', KEYS[1]) == 0 then return {'not_found'} end
redis.call('HSET', KEYS[2], 'pending', ARGV[1], 'pending_attempts', 0,
  'pending_expires_at', ARGV[2])
if redis.call('HEXISTS', KEYS[2], 'sealed') == 0 then redis.call('EXPIRE', KEYS[2], ARGV[3]) end
return {'ok'}
