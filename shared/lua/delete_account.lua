-- delete_account.lua: forget everything the service holds for one account.
-- KEYS[1] challenges (a SET of challenge key names)  KEYS[2..n] the account's other keys
-- ARGV: none
-- Returns the number of keys removed.
-- Invariant: one step, so no challenge opened meanwhile can outlive the profile. The
-- challenge keys come from the set; they carry the account's hash tag, so the script
-- stays in one Redis Cluster slot.
local removed = 0
for _, key in ipairs(redis.call('SMEMBERS', KEYS[1])) do
  removed = removed + redis.call('DEL', key)
end
for i = 1, #KEYS do removed = removed + redis.call('DEL', KEYS[i]) end
return removed
