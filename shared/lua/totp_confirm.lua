-- totp_confirm.lua: turn a pending authenticator secret on, once a code from it is right.
-- KEYS[1] profile  KEYS[2] totp
-- ARGV[1] now (epoch s)  ARGV[2] sealed: the pending secret the code was checked against
-- ARGV[3] step: the time step whose code matched, or -1
-- ARGV[4] max_attempts: wrong codes allowed
-- KEYS[last] audit stream; ARGV[last 5] audit cap, keep s, time, ip, request id (see _audit.lua)
-- Returns {"not_found"} | {"invalid", attempts_left} | {"too_many_attempts", retry_after}
--       | {"enabled", changed}  (changed: 1 when TOTP was off; retry_after: always 1)
-- Invariant: the secret that becomes active is the one the code was checked against, and
-- the step that confirmed it cannot be used again to sign in.
local totp = redis.call('HMGET', KEYS[2], 'pending', 'pending_attempts', 'pending_expires_at')
if not totp[1] or totp[1] ~= ARGV[2] or tonumber(totp[3]) <= tonumber(ARGV[1]) then
  return {'not_found'}
end
local profile = redis.call('HMGET', KEYS[1], 'email', 'locale', 'totp')
if not profile[1] then return {'not_found'} end
local step = tonumber(ARGV[3])
if step < 0 then
  local attempts = redis.call('HINCRBY', KEYS[2], 'pending_attempts', 1)
  local left = tonumber(ARGV[4]) - attempts
  if left <= 0 then
    redis.call('HDEL', KEYS[2], 'pending', 'pending_attempts', 'pending_expires_at')
    return {'too_many_attempts', 1}
  end
  return {'invalid', left}
end
redis.call('HSET', KEYS[2], 'sealed', ARGV[2], 'last_step', step)
redis.call('HDEL', KEYS[2], 'pending', 'pending_attempts', 'pending_expires_at')
redis.call('PERSIST', KEYS[2])
redis.call('HSET', KEYS[1], 'totp', '1')
audit('totp_enabled', 'replaced', profile[3] == '1' and 1 or 0)
return {'enabled', profile[3] == '1' and 0 or 1}
