-- finish_code_send.lua: record how a worker's attempt to send a code email ended.
-- KEYS[1] challenge
-- ARGV[1] send_no  ARGV[2] outcome: sent | retrying | failed  ARGV[3] claimant
-- Returns 1 when the challenge still exists, else 0.
-- Invariant: "sent" is recorded before the claim is released; a stale send never
-- overwrites the delivery state of the newer send that replaced it.
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local ch = redis.call('HMGET', KEYS[1], 'sends', 'claim', 'sent')
local send_no = tonumber(ARGV[1])
if ARGV[2] == 'sent' and (not ch[3] or tonumber(ch[3]) < send_no) then
  redis.call('HSET', KEYS[1], 'sent', send_no)
end
if ch[2] and string.match(ch[2], '^(.*)|[^|]*$') == ARGV[3] then
  redis.call('HDEL', KEYS[1], 'claim')
end
if ch[1] == ARGV[1] then redis.call('HSET', KEYS[1], 'delivery', ARGV[2]) end
return 1
