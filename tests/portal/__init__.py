"""Tests of the reference portal, run against the twostep API in process."""
