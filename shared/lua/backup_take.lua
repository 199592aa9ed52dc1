-- backup_take.lua (on the broker): lease up to N backups that have come due to one sweeper.
-- KEYS[1] backups (a sorted set)
-- ARGV[1] now (epoch s)  ARGV[2] lease_until: when the lease ends (epoch s)
-- ARGV[3] batch: N, the most backups to lease
-- Returns the leased members, oldest first.
-- Invariant: a backup is leased to one sweeper at a time; one that dies holding a lease
-- leaves its backups to come due again when the lease ends, so none is lost.
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
if #due == 0 then return due end
local scored = {}
for _, member in ipairs(due) do
  scored[#scored + 1] = ARGV[2]
  scored[#scored + 1] = member
end
redis.call('ZADD', KEYS[1], 'XX', unpack(scored))
return due
