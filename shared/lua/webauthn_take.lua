-- webauthn_take.lua: take a registration, once, to check the browser's answer against it.
-- KEYS[1] registration
-- Returns {"not_found"} | {"ok", challenge, user_handle}
-- Invariant: a registration is taken at most once: a second answer to it finds nothing.
local found = redis.call('HMGET', KEYS[1], 'challenge', 'user_handle')
if not found[1] then return {'not_found'} end
redis.call('DEL', KEYS[1])
return {'ok', found[1], found[2]}
