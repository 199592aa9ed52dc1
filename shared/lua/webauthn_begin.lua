-- webauthn_begin.lua: start adding a security key or passkey to an account.
-- KEYS[1] profile  KEYS[2] webauthn (the account's keys)  KEYS[3] registration (the new one)
-- ARGV[1] user_handle: a fresh random one, kept as the account's if it has none yet
-- ARGV[2] challenge (base64url)  ARGV[3] registration_ttl (s)  ARGV[4] max_keys
-- Returns {"not_found"} | {"too_many_keys"} | {"ok", user_handle, email, key_ids}
--   user_handle: the account's (random, never its id); key_ids: its keys' credential ids,
--   comma separated, for the browser to exclude.
-- Invariant: an account's user handle never changes once given; a registration lives
-- registration_ttl seconds and is used once (webauthn_take.lua).
local email = redis.call('HGET', KEYS[1], 'email')
if not email then return {'not_found'} end
local ids = redis.call('HKEYS', KEYS[2])
if #ids >= tonumber(ARGV[4]) then return {'too_many_keys'} end
redis.call('HSETNX', KEYS[1], 'wa_user', ARGV[1])
local handle = redis.call('HGET', KEYS[1], 'wa_user')
redis.call('HSET', KEYS[3], 'challenge', ARGV[2], 'user_handle', handle)
redis.call('EXPIRE', KEYS[3], tonumber(ARGV[3]))
return {'ok', handle, email, table.concat(ids, ',')}
