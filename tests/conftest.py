"""Test levels: unit/ (seconds, no services), integration/ (PostgreSQL, the Flask app, the
stand-ins), e2e/ (real binaries, the whole pipeline, make run), drills/ (failure drills),
rules/ (promtool, amtool, a real Alertmanager). Shared helpers live in tests/support; its
fixture modules are registered here (pytest reads ``pytest_plugins`` in this conftest only)."""

import os

pytest_plugins = [
    "tests.support.environment",  # config_env
    "tests.support.database",  # state_root, postgres (the session's), database_url
    "tests.support.standins.fixtures",  # telegram, slack
    "tests.support.app",  # settings, app, client, app_factory
    "tests.support.alertmanager",  # alertmanager (one per module)
    "tests.support.prometheus",  # prometheus scraping itself (one per module)
    "tests.support.pipeline",  # speed, engines, stack_env, alertmanager_ui, pipeline
    "tests.support.browser",  # browser (headless Chromium)
]

os.environ.setdefault("D76_ENV", "dev")
