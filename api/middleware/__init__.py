"""ASGI middleware of the API: the request id, and the body size limit."""
