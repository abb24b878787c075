"""Durable decision log: fsync'd outbox, the single loader into the warehouse, and replica publication."""
