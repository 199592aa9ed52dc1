-- webauthn_add.lua: keep a security key or passkey whose registration was checked.
-- KEYS[1] profile  KEYS[2] webauthn  KEYS[3] webauthn_use
-- ARGV[1] credential_id (base64url)  ARGV[2] record (JSON: name, public key, ...)
-- ARGV[3] use: "<sign count>||<transports>" (never used yet)  ARGV[4] max_keys
-- ARGV[5] key_id (the short id the API and the audit trail name it by)
-- KEYS[last] audit stream; ARGV[last 5] audit cap, keep s, time, ip, request id (see _audit.lua)
-- Returns {"not_found"} | {"exists"} | {"too_many_keys"} | {"ok"}
-- Invariant: an account holds at most max_keys keys, each credential once.
if not redis.call('HGET', KEYS[1], 'email') then return {'not_found'} end
if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then return {'exists'} end
if redis.call('HLEN', KEYS[2]) >= tonumber(ARGV[4]) then return {'too_many_keys'} end
redis.call('HSET', KEYS[2], ARGV[1], ARGV[2])
redis.call('HSET', KEYS[3], ARGV[1], ARGV[3])
audit('webauthn_added', 'key', ARGV[5])
return {'ok'}
