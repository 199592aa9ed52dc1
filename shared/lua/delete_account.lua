-- delete_account.lua: forget everything the service holds for one account.
-- KEYS[1] challenges (a HASH whose fields are the short ids of challenges that sent no email)
-- KEYS[2] sends (a ZSET of "<short id>:<send number>": every challenge that sent an email)
-- KEYS[3..] others... (the account's other keys)
-- ARGV[1] challenge_prefix: the key prefix of the account's challenges (shared/keys.py)
-- Returns the number of keys removed.
-- Invariant: one step, so no challenge opened meanwhile can outlive the profile. A live
-- challenge is always in one of the two: its last send is younger than the hour the send
-- log keeps. The challenge keys carry the account's hash tag: one Cluster slot.
local removed = 0
for _, id in ipairs(redis.call('HKEYS', KEYS[1])) do
  removed = removed + redis.call('DEL', ARGV[1] .. id)
end
for _, entry in ipairs(redis.call('ZRANGE', KEYS[2], 0, -1)) do
  removed = removed + redis.call('DEL', ARGV[1] .. string.match(entry, '^(.*):%d+$'))
end
for i = 1, #KEYS do removed = removed + redis.call('DEL', KEYS[i]) end
return removed
