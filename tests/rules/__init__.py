"""The Prometheus rules and the Alertmanager configuration, checked by promtool, amtool and a
real Alertmanager."""
