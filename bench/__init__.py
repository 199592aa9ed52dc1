"""The benchmark harness: ``python -m bench`` measures twostep against same-run baselines."""
