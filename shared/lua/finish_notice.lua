-- finish_notice.lua: record how a worker's attempt to send a notice ended.
-- KEYS[1] marker (the notice's)
-- ARGV[1] claimant  ARGV[2] sent: "1" if the mail server accepted it
-- ARGV[3] marker_ttl (s)
-- Returns 1 if the marker changed, else 0.
-- Invariant: only the claimant releases its claim; "sent" sticks for the marker's ttl.
if ARGV[2] == '1' then
  redis.call('SET', KEYS[1], 'sent', 'EX', ARGV[3])
  return 1
end
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
