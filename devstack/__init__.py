"""The development stack that ``scripts/run`` starts: Redis, mail catcher, API, workers, portal."""
