-- webauthn_rename.lua: give a key its new record (its new name), if it is still there.
-- KEYS[1] webauthn  ARGV[1] credential_id  ARGV[2] record (JSON)
-- Returns {"not_found"} | {"ok"}
if redis.call('HEXISTS', KEYS[1], ARGV[1]) == 0 then return {'not_found'} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
return {'ok'}
