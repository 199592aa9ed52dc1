-- delete_account.lua: forget everything the service holds for one account.
-- KEYS[1] challenges (a HASH whose fields are the short ids of the account's challenges)
-- KEYS[2..n] the account's other keys
-- ARGV[1] the key prefix of the account's challenges (from shared/keys.py)
-- Returns the number of keys removed.
-- Invariant: one step, so no challenge opened meanwhile can outlive the profile. The
-- challenge keys carry the account's hash tag, so the script stays in one Cluster slot.
local removed = 0
for _, id in ipairs(redis.call('HKEYS', KEYS[1])) do
  removed = removed + redis.call('DEL', ARGV[1] .. id)
end
for i = 1, #KEYS do removed = removed + redis.call('DEL', KEYS[i]) end
return removed
