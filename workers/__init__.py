"""twostep Celery edge: render, send, record."""
