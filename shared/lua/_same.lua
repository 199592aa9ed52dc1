-- _same.lua: put in front of scripts that compare secrets' digests (shared/scripts.py).
-- same(a, b): whether two strings are equal, in a time that depends on their length only,
-- not on where they first differ.
local function same(a, b)
  if #a ~= #b then return false end
  local diff = 0
  for i = 1, #a do
    if string.byte(a, i) ~= string.byte(b, i) then diff = diff + 1 end
  end
  return diff == 0
end
