-- take_mail_token.lua: the global token bucket that paces outgoing mail across all workers.
-- KEYS[1] bucket (HASH tokens, at_ms; and p0..p9, the sends of the last ten seconds)
-- ARGV[1] rate (tokens per second)  ARGV[2] burst (bucket size)
-- Returns 0 when a token was taken, else the milliseconds to wait before asking again.
-- Invariant: over any window, no more than burst + rate x window mails start, whatever
-- the number of workers. Time comes from Redis so every worker reads one clock.
-- Each token taken is counted in a ring of ten one-second slots, p<second mod 10> =
-- "<second>|<count>": how fast all the workers together take jobs, which the API reads to
-- tell how long a new code email will wait (api/admission.py, MAIL_PACE_SECONDS).
local t = redis.call('TIME')
local now_ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at_ms')
local tokens = tonumber(state[1]) or burst
local at_ms = tonumber(state[2]) or now_ms
tokens = math.min(burst, tokens + math.max(0, now_ms - at_ms) * rate / 1000)
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  local second = t[1]
  local slot = 'p' .. (tonumber(second) % 10)
  local seen = redis.call('HGET', KEYS[1], slot)
  local at, count = string.match(seen or '', '^(%d+)|(%d+)$')
  count = (at == second) and tonumber(count) + 1 or 1
  redis.call('HSET', KEYS[1], slot, second .. '|' .. count)
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at_ms', now_ms)
-- Kept while mail flows, and ten seconds more: the ring's window (a bucket that outlived its
-- refill time is full again by the sum above, so a longer life changes no pacing).
redis.call('PEXPIRE', KEYS[1], math.max(math.ceil(burst * 1000 / rate) + 1000, 11000))
return wait
