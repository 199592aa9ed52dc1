-- resend.lua: replace a pending challenge's code with a new one, to be emailed.
-- KEYS[1] challenge  KEYS[2] profile  KEYS[3] guard  KEYS[4] sends (the send log)
-- KEYS[5] challenges  KEYS[6] recovery
-- ARGV[1] now (epoch s)  ARGV[2] code_digest (the new code's)  ARGV[3] code_ttl (s)
-- ARGV[4] resend_cooldown (the base, s)  ARGV[5] max_sends (per challenge)
-- ARGV[6] max_emails_per_hour (code emails, rolling hour)
-- ARGV[7] client_ip ("" with an empty label keeps the old browser)  ARGV[8] client_label
-- ARGV[9] short_id (the challenge's: its key's last part)
-- ARGV[10] mail_delay: 0, or the seconds until the mail queue takes new code emails in time
-- again (api/admission.py)
-- KEYS[last] audit stream; ARGV[last 5] audit cap, keep s, time, ip, request id (see _audit.lua)
-- Returns {"not_found"} | {"too_many_attempts", retry_after} | {"locked", retry_after}
--       | {"too_soon", retry_after} | {"send_limit", retry_after}
--       | {"mail_delayed", retry_after}
--       | {"pending", email, sends, expires_at, resend_at, ip, label, totp, recovery_left}
-- Invariant: the old digest is overwritten in the same step that counts the send, so the
-- old code is dead the moment a new one exists; attempts are never touched; a challenge of
-- an account whose two-step is off (or that is gone) is ended: {"not_found"}, nothing sent.
local now = tonumber(ARGV[1])
local ch = redis.call('HMGET', KEYS[1], 'status', 'expires_at', 'resend_at', 'sends', 'ip', 'label')
if not ch[1] or ch[1] == 'verified' or tonumber(ch[2]) <= now then return {'not_found'} end
local profile = redis.call('HMGET', KEYS[2], 'email', 'totp', 'two_step')
if not profile[1] or profile[3] ~= '1' then return {'not_found'} end
local remaining = math.ceil(tonumber(ch[2]) - now)
if ch[1] == 'locked' then return {'too_many_attempts', remaining} end
local locked_until = tonumber(redis.call('HGET', KEYS[3], 'locked_until') or '0')
if locked_until > now then return {'locked', math.ceil(locked_until - now)} end
local resend_at = tonumber(ch[3])
if resend_at > now then return {'too_soon', math.ceil(resend_at - now)} end
local sends = tonumber(ch[4])
if sends >= tonumber(ARGV[5]) then return {'send_limit', remaining} end

local email_wait = email_cap_wait(KEYS[4], now, tonumber(ARGV[6]))
if email_wait > 0 then return {'send_limit', email_wait} end
local mail_delay = tonumber(ARGV[10])
if mail_delay > 0 then return {'mail_delayed', mail_delay} end

sends = sends + 1
local ttl = tonumber(ARGV[3])
local expires_at = now + ttl
local next_resend = now + tonumber(ARGV[4]) * 2 ^ (sends - 1)
local ip, label = ch[5], ch[6]
if ARGV[7] ~= '' or ARGV[8] ~= '' then ip, label = ARGV[7], ARGV[8] end
email_cap_count(KEYS[4], now, ARGV[9] .. ':' .. sends)
redis.call('HSET', KEYS[1], 'digest', ARGV[2], 'sends', sends,
  'expires_at', expires_at, 'resend_at', next_resend, 'delivery', 'queued', 'ip', ip, 'label', label)
redis.call('EXPIRE', KEYS[1], ttl)
audit('code_resent', 'challenge', ARGV[9], 'send', sends)
if redis.call('EXISTS', KEYS[5]) == 1 then redis.call('EXPIRE', KEYS[5], ttl) end
return {'pending', profile[1], sends, tostring(expires_at), tostring(next_resend),
        ip, label, profile[2] or '0', redis.call('HLEN', KEYS[6])}
