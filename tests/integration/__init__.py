"""Integration tests: real PostgreSQL, the Flask app, the stand-ins; all in this process."""
