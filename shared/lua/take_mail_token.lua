-- take_mail_token.lua: the global token bucket that paces outgoing mail across all workers.
-- KEYS[1] bucket (HASH tokens, at_ms)
-- ARGV[1] rate (tokens per second)  ARGV[2] burst (bucket size)
-- Returns 0 when a token was taken, else the milliseconds to wait before asking again.
-- Invariant: over any window, no more than burst + rate x window mails start, whatever
-- the number of workers. Time comes from Redis so every worker reads one clock.
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
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at_ms', now_ms)
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return wait
