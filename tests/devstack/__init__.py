"""Tests of the one-command development stack (devstack)."""
