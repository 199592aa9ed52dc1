-- Count a password attempt, or refuse it while a back-off runs.
-- KEYS[1]: the account's counter (a hash: count, until_ms); KEYS[2]: the client IP's.
-- ARGV[1]: now, in ms; ARGV[2], ARGV[3]: attempts free of any wait for KEYS[1], KEYS[2];
-- ARGV[4]: the longest wait, in ms; ARGV[5]: how long a quiet counter lives, in seconds.
-- Returns 0 when the attempt may go ahead (it is counted), else the ms left to wait
-- (nothing is counted).
-- Invariant: past the free attempts, each counted attempt starts a wait that doubles (1 s,
-- 2 s, 4 s, ... up to ARGV[4]), so at most one guess goes through per wait, however many
-- requests arrive at once.
local now = tonumber(ARGV[1])
local wait = 0
for _, key in ipairs(KEYS) do
  local blocked = tonumber(redis.call('HGET', key, 'until_ms') or '0')
  if blocked - now > wait then
    wait = blocked - now
  end
end
if wait > 0 then
  return wait
end
for i, key in ipairs(KEYS) do
  local free = tonumber(ARGV[1 + i])
  local count = redis.call('HINCRBY', key, 'count', 1)
  local ttl = tonumber(ARGV[5])
  if count > free then
    local backoff = math.min(tonumber(ARGV[4]), 1000 * 2 ^ math.min(count - free - 1, 40))
    redis.call('HSET', key, 'until_ms', string.format('%d', now + backoff))
    ttl = math.max(ttl, math.ceil(backoff / 1000))
  end
  redis.call('EXPIRE', key, ttl)
end
return 0
