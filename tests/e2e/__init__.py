"""End to end: the real Prometheus, Alertmanager and exporter binaries, the whole pipeline,
`make run`."""
