"""The client's version, as its package metadata says (kept equal by tests/test_package.py)."""

VERSION = "0.1.0"
