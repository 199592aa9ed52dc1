-- verify.lua: POST /v1/challenges/{id}/verify with a wrong code, cycling through the challenge
-- ids in a file, each thread from its own offset. Arguments: api key, path of the id file, and
-- the body (a wrong email code when left out).
local ids = {}
local counter, body

function init(args)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  wrk.headers["Content-Type"] = "application/json"
  for line in io.lines(args[2]) do table.insert(ids, line) end
  counter = (tid * 7919) % #ids
  body = args[3] or '{"code": "000000"}'
end

function request()
  counter = counter % #ids + 1
  local path = "/v1/challenges/" .. ids[counter] .. "/verify"
  return wrk.format(nil, path, nil, body)
end
