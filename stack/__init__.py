"""Runs the whole d76-alerting stack locally: used by `make run` and by the tests."""
