"""What the API and the workers share: settings, Redis keys, Lua scripts, formats, jobs."""
