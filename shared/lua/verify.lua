-- verify.lua: check a code against a challenge and count the attempt, in one step.
-- KEYS[1] challenge  KEYS[2] guard  KEYS[3] browsers  KEYS[4] browser_expiry  KEYS[5] profile
-- KEYS[6] totp  KEYS[7] recovery  KEYS[8] recovery_used (digests of the set's used codes)
-- KEYS[9] webauthn_use (the account's security keys: credential id -> count|used|transports)
-- ARGV[1] now (epoch s)  ARGV[2] candidates: digests, comma separated (email: the code's
-- digest; recovery_code: one digest per known secret key; totp: unused)
-- ARGV[3] lock_threshold (account)  ARGV[4] lock_seconds (the first account lock)
-- ARGV[5] lock_max_seconds (the longest)  ARGV[6] remember ("1"/"0": trust the browser)
-- ARGV[7] browser_id  ARGV[8] browser_record  ARGV[9] browser_expires_at (epoch s)
-- ARGV[10] max_browsers (trusted, per account)  ARGV[11] browser_ttl (s)
-- ARGV[12] method: email | totp | recovery_code | webauthn
-- ARGV[13] totp_step: the time step whose code matched, or -1 when none did
-- ARGV[14] max_attempts: wrong codes a challenge takes before it locks
-- ARGV[15] short_id (the challenge's)
-- ARGV[16] failure_weight: failures a wrong code adds toward the account lock
-- (api/guessing.py: the codes it was checked against, 3 for an app code, 1 otherwise)
-- ARGV[17] credential_id: the key that signed (webauthn; "" otherwise)
-- ARGV[18] sign_count: its signature counter, or -1 when the assertion failed its checks
-- (origin, RP id, challenge, signature, user presence and verification: api/passkeys.py)
-- ARGV[19] webauthn_challenge: the challenge the assertion was checked against
-- KEYS[last] audit stream; ARGV[last 5] audit cap, keep s, time, ip, request id (see _audit.lua)
-- Returns {"not_found"} | {"no_method"}
--       | {"too_many_attempts", retry_after, locks, account_id, lock_seconds}
--       | {"locked", retry_after, locks, account_id, lock_seconds}
--       | {"invalid", attempts_left} | {"used", attempts_left}
--       | {"verified", account_id, recovery_left}
--   locks: what this very check locked: "challenge", "account", "challenge+account", or ""
--   when it was so before the check; account_id and lock_seconds (the account lock's
--   length) are set when it holds "account", else "" and 0.
--   "used": the code was right once and is spent: a TOTP step at or before the last
--   accepted one, or a recovery code of the current set already used.
-- Invariants: a challenge of an account whose two-step is off (or that is gone) is ended:
-- {"not_found"}, nothing counted or used; every wrong code is counted before anything is
-- returned, so N parallel wrong guesses cost N attempts of the challenge and N times
-- failure_weight failures of the account; once attempts reach max_attempts even the right code
-- fails; a TOTP step is accepted once per account (later than the last accepted one); a
-- recovery code is deleted by the check that accepts it, its digest kept in recovery_used until
-- a new set replaces it. A used code is a wrong code that says so: counted exactly alike. A
-- key's assertion counts only for the challenge it was made for, from a key of this account,
-- with a signature counter past the last one it gave (both 0: a key that keeps none); one
-- that went back is refused as a possible clone, and audited so.
local now = tonumber(ARGV[1])
local ch = redis.call('HMGET', KEYS[1], 'status', 'expires_at', 'digest', 'attempts', 'account_id',
  'wa')
if not ch[1] or ch[1] == 'verified' or tonumber(ch[2]) <= now then return {'not_found'} end
local flags = redis.call('HMGET', KEYS[5], 'two_step', 'totp')
if flags[1] ~= '1' then return {'not_found'} end
local remaining = math.ceil(tonumber(ch[2]) - now)
if ch[1] == 'locked' then return {'too_many_attempts', remaining, '', '', 0} end

local method = ARGV[12]
if method == 'totp' and flags[2] ~= '1' then return {'no_method'} end
if method == 'recovery_code' and redis.call('HLEN', KEYS[7]) == 0 then return {'no_method'} end
if method == 'webauthn' and (redis.call('HLEN', KEYS[9]) == 0 or not ch[6]) then
  return {'no_method'}
end

local locked_until = tonumber(redis.call('HGET', KEYS[2], 'locked_until') or '0')
if locked_until > now then return {'locked', math.ceil(locked_until - now), '', '', 0} end

local right, used, cloned = false, false, false
if method == 'webauthn' then
  local count = tonumber(ARGV[18])
  local use = ARGV[17] ~= '' and redis.call('HGET', KEYS[9], ARGV[17])
  if count >= 0 and use and same(ch[6], ARGV[19]) then
    local last, _, transports = string.match(use, '^([^|]*)|([^|]*)|(.*)$')
    last = tonumber(last) or 0
    if (count > 0 or last > 0) and count <= last then
      cloned = true
    else
      redis.call('HSET', KEYS[9], ARGV[17], count .. '|' .. ARGV[1] .. '|' .. transports)
      right = true
    end
  end
elseif method == 'email' then
  right = ch[3] ~= '' and same(ch[3], ARGV[2])
elseif method == 'totp' then
  local step = tonumber(ARGV[13])
  local last = tonumber(redis.call('HGET', KEYS[6], 'last_step') or '-1')
  if step >= 0 and step > last then
    redis.call('HSET', KEYS[6], 'last_step', step)
    right = true
  else
    used = step >= 0
  end
else
  for digest in string.gmatch(ARGV[2], '[^,]+') do
    if not right and redis.call('HDEL', KEYS[7], digest) == 1 then
      redis.call('HSET', KEYS[8], digest, '1')
      right = true
    end
  end
  if not right then
    for digest in string.gmatch(ARGV[2], '[^,]+') do
      if redis.call('HEXISTS', KEYS[8], digest) == 1 then used = true end
    end
  end
end

local max_attempts = tonumber(ARGV[14])
if right then
  redis.call('HSET', KEYS[1], 'status', 'verified', 'digest', '', 'wa', '')
  redis.call('DEL', KEYS[2])
  if ARGV[6] == '1' then
    local expired = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', now)
    for _, id in ipairs(expired) do
      redis.call('HDEL', KEYS[3], id)
      redis.call('ZREM', KEYS[4], id)
    end
    redis.call('HSET', KEYS[3], ARGV[7], ARGV[8])
    redis.call('ZADD', KEYS[4], tonumber(ARGV[9]), ARGV[7])
    while redis.call('ZCARD', KEYS[4]) > tonumber(ARGV[10]) do
      local oldest = redis.call('ZPOPMIN', KEYS[4])
      redis.call('HDEL', KEYS[3], oldest[1])
    end
    redis.call('EXPIRE', KEYS[3], ARGV[11])
    redis.call('EXPIRE', KEYS[4], ARGV[11])
  end
  local left = redis.call('HLEN', KEYS[7])
  audit('verified', 'challenge', ARGV[15], 'method', method)
  if method == 'recovery_code' then audit('recovery_code_used', 'remaining', left) end
  if ARGV[6] == '1' then audit('trusted_browser_added', 'browser', ARGV[7]) end
  return {'verified', ch[5], left}
end

local attempts = redis.call('HINCRBY', KEYS[1], 'attempts', 1)
local fails = redis.call('HINCRBY', KEYS[2], 'fails', tonumber(ARGV[16]))
local lock_max = tonumber(ARGV[5])
local account_locked = 0
if fails >= tonumber(ARGV[3]) then
  local locks = redis.call('HINCRBY', KEYS[2], 'locks', 1)
  account_locked = math.min(tonumber(ARGV[4]) * 2 ^ (locks - 1), lock_max)
  redis.call('HSET', KEYS[2], 'fails', 0, 'locked_until', now + account_locked)
end
-- The back-off is forgotten a day after the last failure or lock has run out.
redis.call('EXPIRE', KEYS[2], math.ceil(math.max(account_locked, 0) + lock_max))
local left = math.max(0, max_attempts - attempts)
if used then
  audit('verification_failed', 'challenge', ARGV[15], 'method', method, 'attempts_left', left,
    'reason', 'code_already_used')
elseif cloned then
  audit('verification_failed', 'challenge', ARGV[15], 'method', method, 'attempts_left', left,
    'reason', 'sign_count_went_back')
else
  audit('verification_failed', 'challenge', ARGV[15], 'method', method, 'attempts_left', left)
end
local lock_s = math.ceil(account_locked)
if account_locked > 0 then audit('account_locked', 'seconds', lock_s) end
if attempts >= max_attempts then
  redis.call('HSET', KEYS[1], 'status', 'locked', 'digest', '')
  audit('challenge_locked', 'challenge', ARGV[15])
  if account_locked > 0 then
    return {'too_many_attempts', remaining, 'challenge+account', ch[5], lock_s}
  end
  return {'too_many_attempts', remaining, 'challenge', '', 0}
end
if account_locked > 0 then return {'locked', lock_s, 'account', ch[5], lock_s} end
return {used and 'used' or 'invalid', max_attempts - attempts}
