-- get.lua: GET the URL's path, as the baselines need. No arguments.
function init(args) end
