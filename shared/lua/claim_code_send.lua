-- claim_code_send.lua: may this worker send the email of send number N of a challenge?
-- KEYS[1] challenge  KEYS[2] profile (the account's: same hash tag)  KEYS[3] reports
-- ARGV[1] send_no  ARGV[2] now (epoch s)  ARGV[3] claimant (worker id)
-- ARGV[4] hold_seconds: how long the claim holds
-- ARGV[5] short_id (the challenge's)  ARGV[6] report_digest: the digest of the email's
-- "This wasn't me" token ("" for none)  ARGV[7] report_keep: how long the link works (s)
-- Returns {"send", email, locale, time_zone} (time_zone '' for none)
--       | {"done"} (already accepted by the mail server)
--       | {"busy"} (another worker is sending it) | {"stale"} (resent, verified, locked,
--         deleted) | {"expired"}
-- The address (and language and zone) is the account's at send time: code jobs carry none.
-- Invariant: at most one worker at a time holds the claim of a send, and a send that was
-- marked sent is never sent again.
local ch = redis.call('HMGET', KEYS[1], 'status', 'sends', 'expires_at', 'sent', 'claim', 'ip',
  'label')
if not ch[1] then return {'stale'} end
local now = tonumber(ARGV[2])
if ch[4] and tonumber(ch[4]) >= tonumber(ARGV[1]) then return {'done'} end
if ch[1] ~= 'pending' or ch[2] ~= ARGV[1] then return {'stale'} end
if tonumber(ch[3]) <= now then return {'expired'} end
if ch[5] then
  local owner, deadline = string.match(ch[5], '^(.*)|([^|]*)$')
  if owner ~= ARGV[3] and tonumber(deadline) > now then return {'busy'} end
end
local profile = redis.call('HMGET', KEYS[2], 'email', 'locale', 'tz')
if not profile[1] then return {'stale'} end
redis.call('HSET', KEYS[1], 'claim', ARGV[3] .. '|' .. (now + tonumber(ARGV[4])))
if ARGV[6] ~= '' then
  report_keep(KEYS[3], ARGV[5], ARGV[6], now, ch[6] or '', ch[7] or '', tonumber(ARGV[7]))
end
return {'send', profile[1], profile[2] or 'en', profile[3] or ''}
