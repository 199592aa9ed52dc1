-- _audit.lua: put in front of every script that records audit events (shared/scripts.py).
-- An audited script's LAST key is the account's audit stream (a capped Redis Stream) and its
-- LAST five arguments are: the stream's cap, how long an idle account's trail is kept (s),
-- the time of the change (epoch s), the end user's IP ("" when unknown) and the request id
-- ("" when none).
-- audit(type, field, value, ...) appends one event in the script's own atomic step, so an
-- event is recorded exactly when its change is. Events never hold a code, token or digest.
local AUDIT_KEY = KEYS[#KEYS]
local AUDIT_CAP = ARGV[#ARGV - 4]
local AUDIT_KEEP = ARGV[#ARGV - 3]
local AUDIT_AT = ARGV[#ARGV - 2]
local AUDIT_IP = ARGV[#ARGV - 1]
local AUDIT_RID = ARGV[#ARGV]
local function audit(kind, ...)
  local command = {'XADD', AUDIT_KEY, 'MAXLEN', '~', AUDIT_CAP, '*', 'type', kind, 'at', AUDIT_AT}
  if AUDIT_IP ~= '' then
    command[#command + 1] = 'ip'
    command[#command + 1] = AUDIT_IP
  end
  if AUDIT_RID ~= '' then
    command[#command + 1] = 'rid'
    command[#command + 1] = AUDIT_RID
  end
  local details = {...}
  for i = 1, #details do command[#command + 1] = tostring(details[i]) end
  redis.call(unpack(command))
  redis.call('EXPIRE', AUDIT_KEY, AUDIT_KEEP)
end
