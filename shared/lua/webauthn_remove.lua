-- webauthn_remove.lua: forget a security key or passkey.
-- KEYS[1] webauthn  KEYS[2] webauthn_use
-- ARGV[1] credential_id  ARGV[2] key_id (its short id, for the audit trail)
-- KEYS[last] audit stream; ARGV[last 5] audit cap, keep s, time, ip, request id (see _audit.lua)
-- Returns {"not_found"} | {"ok"}
if redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then return {'not_found'} end
redis.call('HDEL', KEYS[2], ARGV[1])
audit('webauthn_removed', 'key', ARGV[2])
return {'ok'}
