-- code_publish.lua (on the broker): push a code job and file its backup, in one step.
-- KEYS[1] queue (the code queue)  KEYS[2] backups (a sorted set)
-- ARGV[1] message (the job's, for Celery)  ARGV[2] due: when its backup comes due (epoch s)
-- ARGV[3] payload (the job's, JSON; unique: its sealed code has a random nonce)
-- Invariant: a job is never on the queue without its backup filed.
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[3])
return 1
