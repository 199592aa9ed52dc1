-- _email_cap.lua: put in front of scripts that email codes (shared/scripts.py): the
-- account's cap on code emails in any rolling hour, kept in its send log (a ZSET of
-- "<challenge short id>:<send number>" scored by when each was sent).
-- email_cap_wait(log, now, max): forget sends older than an hour, then the seconds until the
-- cap takes another email (0 when it would now).
-- email_cap_count(log, now, member): count a send in the log, for an hour.
local function email_cap_wait(log, now, max)
  redis.call('ZREMRANGEBYSCORE', log, '-inf', now - 3600)
  if redis.call('ZCARD', log) < max then return 0 end
  local oldest = redis.call('ZRANGE', log, 0, 0, 'WITHSCORES')
  return math.max(1, math.ceil(tonumber(oldest[2]) + 3600 - now))
end
local function email_cap_count(log, now, member)
  redis.call('ZADD', log, now, member)
  redis.call('EXPIRE', log, 3600)
end
