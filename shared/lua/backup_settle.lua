-- backup_settle.lua (on the broker): a sweeper's decision on the backups it leased.
-- KEYS[1] queue (the code queue)  KEYS[2] backups (a sorted set)
-- ARGV[1] pushed: M, the number of messages
-- ARGV[2..] items...: M Celery messages to push again, then the settled backups, removed
-- (the leased ones not named here stay leased)
-- Invariant: a backup leaves the set only in the step that pushes its job again, if it must
-- go again.
local pushed = tonumber(ARGV[1])
for i = 2, pushed + 1 do redis.call('LPUSH', KEYS[1], ARGV[i]) end
local settled = {}
for i = pushed + 2, #ARGV do settled[#settled + 1] = ARGV[i] end
if #settled > 0 then redis.call('ZREM', KEYS[2], unpack(settled)) end
return pushed
