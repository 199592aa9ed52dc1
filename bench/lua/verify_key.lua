-- verify_key.lua: POST /v1/challenges/{id}/verify with a security key's answer, cycling
-- through the lines "<challenge id> <body>" of a file (bench/keys.py), each thread from its
-- own offset. Arguments: api key, path of the file.
local ids, bodies = {}, {}
local counter

function init(args)
  wrk.method = "POST"
  wrk.headers["Authorization"] = "Bearer " .. args[1]
  wrk.headers["Content-Type"] = "application/json"
  for line in io.lines(args[2]) do
    local id, body = string.match(line, "^(%S+) (.*)$")
    table.insert(ids, id)
    table.insert(bodies, body)
  end
  counter = (tid * 7919) % #ids
end

function request()
  counter = counter % #ids + 1
  return wrk.format(nil, "/v1/challenges/" .. ids[counter] .. "/verify", nil, bodies[counter])
end
