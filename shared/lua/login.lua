-- login.lua: decide whether a login needs a second step and, if so, open a challenge.
-- KEYS[1] profile  KEYS[2] guard  KEYS[3] sends (the account's send log)  KEYS[4] challenges
-- KEYS[5] browsers  KEYS[6] browser_expiry  KEYS[7] challenge (the new one)  KEYS[8] recovery
-- KEYS[9] queue  KEYS[10] backups: the code queue and its backups, on the broker, which is
-- then a database of this same server (standalone only; api/mailqueue.py InLoginPublish);
-- without a job, stand-ins of the account's own slot, left untouched
-- KEYS[11] webauthn_use (the account's security keys: credential id -> count|used|transports)
-- ARGV[1] now (epoch s)  ARGV[2] code_digest (kept only if emailed)  ARGV[3] code_ttl (s)
-- ARGV[4] resend_cooldown (s)  ARGV[5] max_emails_per_hour (code emails, rolling hour)
-- ARGV[6] method asked for: "email", "totp", "webauthn", or "" for the account's own (its
-- preference when it is set up, else the app when one is confirmed, else email)
-- ARGV[7] browser_id (trusted browser, "" if none)  ARGV[8] token_digest (its token's)
-- ARGV[9] account_id  ARGV[10] client_ip  ARGV[11] client_label
-- ARGV[12] short_id (the challenge's: its key's last part)
-- ARGV[13] broker_db ("" when the job is published after the script instead)
-- ARGV[14] state_db (this script's own database)  ARGV[15] message (the code job's Celery
-- message)  ARGV[16] due (when its backup comes due, epoch s)  ARGV[17] payload (JSON)
-- ARGV[18] webauthn_challenge (base64url; kept only when the account has a security key)
-- ARGV[19] mail_delay: 0, or the seconds until the mail queue takes new code emails in time
-- again (api/admission.py): an email is then refused like one over the cap
-- KEYS[last] audit stream; ARGV[last 5] audit cap, keep s, time, ip, request id (see _audit.lua)
-- Returns {"not_found"} | {"disabled"} | {"trusted"} | {"locked", retry_after}
--       | {"send_limit", retry_after} | {"mail_delayed", retry_after} | {"no_totp"}
--       | {"no_webauthn"}
--       | {"pending", email, sends, expires_at, resend_at, totp, recovery_left, method,
--          email_wait, webauthn, refused}
--   method: the one decided ("email" when sends is 1; else "totp" or "webauthn", or
--   "recovery_code" when the email cap or the mail queue refused an email and the account
--   has neither);
--   email_wait: seconds until the email cap would take an email, 0 when it would now;
--   webauthn: the account's security keys, "<credential id>=<transports>" comma separated;
--   refused: why an email this login would have sent was not ("send_limit", "mail_delayed"),
--   "" when none was refused.
-- Invariant: a challenge exists only for an enabled, unlocked account, and only under its
-- email cap and with the mail queue in time (mail_delay 0) unless it sends nothing and the
-- account has an app, a key or recovery codes; each code
-- email it promises is counted in the rolling hour before it is queued, and only then; with
-- a broker_db, its code job and backup are queued in the same atomic step as the challenge.
local now = tonumber(ARGV[1])
local profile = redis.call('HMGET', KEYS[1], 'email', 'two_step', 'totp', 'pref')
if not profile[1] then return {'not_found'} end
if profile[2] ~= '1' then return {'disabled'} end

local browser_id = ARGV[7]
if browser_id ~= '' then
  local expires = tonumber(redis.call('ZSCORE', KEYS[6], browser_id))
  local record = redis.call('HGET', KEYS[5], browser_id)
  if expires and record and expires > now then
    local digest, rest = string.match(record, '^([^|]*)|(.*)$')
    if digest and same(digest, ARGV[8]) then
      local created, _, tail = string.match(rest, '^([^|]*)|([^|]*)|(.*)$')
      redis.call('HSET', KEYS[5], browser_id, digest .. '|' .. created .. '|' .. ARGV[1] .. '|' .. tail)
      audit('trusted_browser_used', 'browser', browser_id)
      return {'trusted'}
    end
  end
end

local locked_until = tonumber(redis.call('HGET', KEYS[2], 'locked_until') or '0')
if locked_until > now then return {'locked', math.ceil(locked_until - now)} end

local ttl = tonumber(ARGV[3])
local method = ARGV[6]
local has_totp = profile[3] == '1'
if method == 'totp' and not has_totp then return {'no_totp'} end
local keys = {}
local use = redis.call('HGETALL', KEYS[11])
for i = 1, #use, 2 do
  keys[#keys + 1] = use[i] .. '=' .. (string.match(use[i + 1], '^[^|]*|[^|]*|(.*)$') or '')
end
local has_webauthn = #keys > 0
if method == 'webauthn' and not has_webauthn then return {'no_webauthn'} end
if method == '' then
  -- A preferred method that is not (or no longer) set up: the app if confirmed, else email.
  if profile[4] == 'webauthn' and has_webauthn then method = 'webauthn'
  else method = (profile[4] ~= 'email' and has_totp) and 'totp' or 'email' end
end
local recovery = redis.call('HLEN', KEYS[8])
-- The cap is read for every challenge, so that one that sends nothing can say when email
-- would be taken; it never refuses a challenge that another method can pass.
local email_wait = email_cap_wait(KEYS[3], now, tonumber(ARGV[5]))
local mail_delay = tonumber(ARGV[19])
local sends = 0
local resend_at = now + math.max(email_wait, mail_delay)
local refused = ''
if method == 'email' then
  if email_wait > 0 or mail_delay > 0 then
    refused = email_wait > 0 and 'send_limit' or 'mail_delayed'
    if has_totp then method = 'totp'
    elseif has_webauthn then method = 'webauthn'
    elseif recovery > 0 then method = 'recovery_code'
    elseif email_wait > 0 then return {'send_limit', email_wait}
    else return {'mail_delayed', mail_delay} end
  else
    email_cap_count(KEYS[3], now, ARGV[12] .. ':1')
    sends = 1
    resend_at = now + tonumber(ARGV[4])
  end
end

local expires_at = now + ttl
redis.call('HSET', KEYS[7],
  'account_id', ARGV[9], 'status', 'pending', 'digest', sends == 1 and ARGV[2] or '',
  'attempts', 0, 'sends', sends, 'expires_at', expires_at,
  'resend_at', resend_at, 'delivery', sends == 1 and 'queued' or 'none',
  'ip', ARGV[10], 'label', ARGV[11])
if has_webauthn then redis.call('HSET', KEYS[7], 'wa', ARGV[18]) end
redis.call('EXPIRE', KEYS[7], ttl)
audit('challenge_issued', 'challenge', ARGV[12], 'method', method)
if sends == 0 then
  -- An email challenge is found through its entry in the send log; one with no email yet
  -- (an app, a key) needs the index, so that deleting the account still finds it.
  redis.call('HSET', KEYS[4], ARGV[12], 1)
  redis.call('EXPIRE', KEYS[4], ttl)
end
if sends == 1 and ARGV[13] ~= '' then
  redis.call('SELECT', ARGV[13])
  redis.call('LPUSH', KEYS[9], ARGV[15])
  redis.call('ZADD', KEYS[10], ARGV[16], ARGV[17])
  redis.call('SELECT', ARGV[14])
end
return {'pending', profile[1], sends, tostring(expires_at), tostring(resend_at),
        profile[3] or '0', recovery, method, email_wait, table.concat(keys, ','), refused}
