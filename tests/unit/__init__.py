"""Unit tests: seconds, no services (no PostgreSQL, no binaries, no stack)."""
