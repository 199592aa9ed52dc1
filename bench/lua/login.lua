-- login.lua: POST /v1/logins, cycling through accounts <prefix><1..n>, each thread from its own
-- offset. Arguments: api key, number of accounts, account id prefix.
local accounts, prefix, counter
local agent = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"

function init(args)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  wrk.headers["Content-Type"] = "application/json"
  accounts = tonumber(args[2])
  prefix = args[3]
  counter = (tid * 7919) % accounts
end

function request()
  counter = counter % accounts + 1
  local body = string.format(
    '{"account_id": "%s%d", "client": {"ip": "203.0.113.9", "user_agent": "%s"}}',
    prefix, counter, agent)
  return wrk.format(nil, "/v1/logins", nil, body)
end
