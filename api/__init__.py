"""twostep HTTP edge (FastAPI)."""
