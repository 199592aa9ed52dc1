-- report.lua: "This wasn't me": end the challenge a link was mailed for, once.
-- KEYS[1] reports  KEYS[2] challenge  KEYS[3] challenges  KEYS[4] browsers
-- KEYS[5] browser_expiry  KEYS[6] profile
-- ARGV[1] short_id  ARGV[2] report_digest  ARGV[3] now (epoch s)  ARGV[4] report_keep (s)
-- ARGV[5] revoke_browsers ("1": forget the account's trusted browsers too)
-- KEYS[last] audit stream; ARGV[last 5] audit cap, keep s, time, ip, request id (see _audit.lua)
-- Returns {"not_found"} (unknown, foreign or expired link, or the account is gone)
--       | {"used", reported_at} (this challenge was reported already)
--       | {"reported", account_id, challenge_ended, browsers_revoked, ip, label}
--   challenge_ended: 1 when the challenge was still open (its code dies, resends are
--   refused), 0 when it had ended already (passed, expired, used up); ip and label: the
--   challenge's end user, as the portal gave them at login.
-- Invariant: a challenge is reported at most once, whichever of its links is used; the
-- audit event is recorded in the same step as the change.
local last, used, ip, label =
  report_find(KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4]))
local account_id = redis.call('HGET', KEYS[6], 'account_id')
if not last or not account_id then return {'not_found'} end
if used ~= '' then return {'used', used} end
redis.call('HSET', KEYS[1], ARGV[1], last .. '|' .. ARGV[3] .. '|' .. ip .. '|' .. label)
local ended = 0
if redis.call('HGET', KEYS[2], 'status') == 'pending' then
  redis.call('DEL', KEYS[2])
  redis.call('HDEL', KEYS[3], ARGV[1])
  ended = 1
end
local revoked = 0
if ARGV[5] == '1' then
  revoked = redis.call('HLEN', KEYS[4])
  redis.call('DEL', KEYS[4], KEYS[5])
end
audit('login_reported', 'challenge', ARGV[1], 'login_ip', ip, 'login_browser', label,
  'challenge_ended', ended, 'browsers_revoked', revoked)
return {'reported', account_id, ended, revoked, ip, label}
