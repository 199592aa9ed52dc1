-- report_read.lua: what the "This wasn't me" page shows for a link; it changes nothing (mail
-- scanners and link previews open links).
-- KEYS[1] reports  KEYS[2] profile
-- ARGV[1] short_id  ARGV[2] report_digest  ARGV[3] now (epoch s)  ARGV[4] report_keep (s)
-- Returns {"not_found"} (unknown, foreign, expired, or the account is gone)
--       | {"ok", locale, reported_at, ip, label}
--   reported_at: when the challenge was reported (epoch s), "" when it was not yet.
local last, used, ip, label =
  report_find(KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
local locale = redis.call('HGET', KEYS[2], 'locale')
if not last or not locale then return {'not_found'} end
return {'ok', locale, used, ip, label}
