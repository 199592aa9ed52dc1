-- report_add.lua: file the "This wasn't me" link of a notice about a challenge (a browser it
-- trusted), so that the link reports that challenge.
-- KEYS[1] reports
-- ARGV[1] short_id (the challenge's)  ARGV[2] report_digest (the link's token's)
-- ARGV[3] now (epoch s)  ARGV[4] client_ip  ARGV[5] client_label  ARGV[6] report_keep (s)
-- Returns 1.
report_keep(KEYS[1], ARGV[1], ARGV[2], tonumber(ARGV[3]), ARGV[4], ARGV[5], tonumber(ARGV[6]))
return 1
