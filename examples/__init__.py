"""Examples of portals and tools that use twostep through its HTTP API only."""
