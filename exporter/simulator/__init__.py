"""A built-in D75 stand-in that drives the exporter's hooks through named scenarios."""
