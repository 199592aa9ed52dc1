-- verify.lua: compare a code with a challenge's digest and count the attempt, in one step.
-- KEYS[1] challenge  KEYS[2] guard  KEYS[3] browsers  KEYS[4] browser-expiry  KEYS[5] profile
-- ARGV[1] now (epoch s)  ARGV[2] candidate digest  ARGV[3] account lock threshold
-- ARGV[4] first account lock s  ARGV[5] longest account lock s
-- ARGV[6] remember browser ("1"/"0")  ARGV[7] browser id  ARGV[8] browser record
-- ARGV[9] browser expires at (epoch s)  ARGV[10] max trusted browsers
-- ARGV[11] trusted browser ttl s
-- Returns {"not_found"} | {"too_many_attempts", retry_after} | {"locked", retry_after}
--       | {"invalid", attempts_left} | {"verified", account_id, email, locale}
-- Invariant: every wrong code is counted before anything is returned, so N parallel wrong
-- guesses cost N attempts; once attempts reach max_attempts even the right code fails.
local now = tonumber(ARGV[1])
local ch = redis.call('HMGET', KEYS[1], 'status', 'expires_at', 'digest', 'attempts', 'max_attempts',
  'account_id')
if not ch[1] or ch[1] == 'verified' or tonumber(ch[2]) <= now then return {'not_found'} end
local remaining = math.ceil(tonumber(ch[2]) - now)
if ch[1] == 'locked' then return {'too_many_attempts', remaining} end
local locked_until = tonumber(redis.call('HGET', KEYS[2], 'locked_until') or '0')
if locked_until > now then return {'locked', math.ceil(locked_until - now)} end

local function same(a, b)
  if #a ~= #b then return false end
  local diff = 0
  for i = 1, #a do
    if string.byte(a, i) ~= string.byte(b, i) then diff = diff + 1 end
  end
  return diff == 0
end

local max_attempts = tonumber(ch[5])
if ch[3] ~= '' and same(ch[3], ARGV[2]) then
  redis.call('HSET', KEYS[1], 'status', 'verified', 'digest', '')
  redis.call('DEL', KEYS[2])
  if ARGV[6] == '1' then
    local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
    for _, id in ipairs(expired) do
      redis.call('HDEL', KEYS[3], id)
      redis.call('ZREM', KEYS[4], id)
    end
    redis.call('HSET', KEYS[3], ARGV[7], ARGV[8])
    redis.call('ZADD', KEYS[4], tonumber(ARGV[9]), ARGV[7])
    while redis.call('ZCARD', KEYS[4]) > tonumber(ARGV[10]) do
      local oldest = redis.call('ZPOPMIN', KEYS[4])
      redis.call('HDEL', KEYS[3], oldest[1])
    end
    redis.call('EXPIRE', KEYS[3], ARGV[11])
    redis.call('EXPIRE', KEYS[4], ARGV[11])
  end
  local profile = redis.call('HMGET', KEYS[5], 'email', 'locale')
  return {'verified', ch[6], profile[1] or '', profile[2] or 'en'}
end

local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local fails = redis.call('HINCRBY', KEYS[2], 'fails', 1)
local lock_max = tonumber(ARGV[5])
local account_locked = 0
if fails >= tonumber(ARGV[3]) then
  local locks = redis.call('HINCRBY', KEYS[2], 'locks', 1)
  account_locked = math.min(tonumber(ARGV[4]) * 2 ^ (locks - 1), lock_max)
  redis.call('HSET', KEYS[2], 'fails', 0, 'locked_until', now + account_locked)
end
-- The back-off is forgotten a day after the last failure or lock has run out.
redis.call('EXPIRE', KEYS[2], math.ceil(math.max(account_locked, 0) + lock_max))
if attempts >= max_attempts then
  redis.call('HSET', KEYS[1], 'status', 'locked', 'digest', '')
  return {'too_many_attempts', remaining}
end
if account_locked > 0 then return {'locked', math.ceil(account_locked)} end
return {'invalid', max_attempts - attempts}
