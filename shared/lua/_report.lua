-- _report.lua: put in front of the scripts that file or check a "This wasn't me" link.
-- report_keep(key, short, digest, now, ip, label, keep) files one link's token digest under
-- its challenge in the account's reports hash (shared/keys.py AccountKeys.reports), with the
-- challenge's IP and browser the first time, and forgets what is older than ``keep`` seconds
-- (the link's lifetime). The hash lives ``keep`` seconds after its last link. Its size is
-- bounded by the email caps: a link goes only with a code email or a new-browser notice.
local function report_keep(key, short, digest, now, ip, label, keep)
  local cutoff = now - keep
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local issued = tonumber(string.match(all[i + 1], '^([^|]*)'))
    if issued and issued <= cutoff then redis.call('HDEL', key, all[i]) end
  end
  local record = redis.call('HGET', key, short)
  if record then
    record = string.gsub(record, '^[^|]*', tostring(now), 1)
  else
    record = now .. '||' .. ip .. '|' .. label
  end
  redis.call('HSET', key, short, record, short .. '.' .. digest, now)
  redis.call('EXPIRE', key, keep)
end

-- report_find(key, short, digest, now, keep) -> last, reported_at, ip, label of the challenge
-- a link was mailed for (reported_at "" while not reported), or nil for a link that is
-- unknown, another challenge's, or older than ``keep`` seconds.
local function report_find(key, short, digest, now, keep)
  local issued = tonumber(redis.call('HGET', key, short .. '.' .. digest) or '')
  if not issued or issued + keep <= now then return nil end
  local record = redis.call('HGET', key, short)
  if not record then return nil end
  return string.match(record, '^([^|]*)|([^|]*)|([^|]*)|(.*)$')
end
