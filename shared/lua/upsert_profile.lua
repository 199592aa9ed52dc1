-- upsert_profile.lua: create or update an account's two-step profile.
-- KEYS[1] profile
-- ARGV[1] account_id  ARGV[2] email  ARGV[3] locale  ARGV[4] now (epoch s)
-- ARGV[5] time_zone (IANA), '' for none (times in UTC), '=' to keep the stored one
-- ARGV[6] preferred_method (second step) ("email" | "totp"), '' for none (login.lua decides),
-- '=' to keep the stored one
-- Returns {created (1|0)}
-- Invariant: a new profile starts with two-step off; an update never touches the switches.
-- The time zone and the preferred method are fields only when the account has them: most
-- accounts pay nothing for them.
local created = 0
if redis.call('EXISTS', KEYS[1]) == 0 then
  created = 1
  redis.call('HSET', KEYS[1], 'account_id', ARGV[1], 'two_step', '0', 'created_at', ARGV[4])
end
redis.call('HSET', KEYS[1], 'email', ARGV[2], 'locale', ARGV[3], 'updated_at', ARGV[4])
for _, field in ipairs({{'tz', ARGV[5]}, {'pref', ARGV[6]}}) do
  if field[2] == '' then
    redis.call('HDEL', KEYS[1], field[1])
  elseif field[2] ~= '=' then
    redis.call('HSET', KEYS[1], field[1], field[2])
  end
end
return {created}
