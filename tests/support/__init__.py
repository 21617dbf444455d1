"""What the test levels share: helpers to import (ports, database, payloads, delivery, the
stand-ins) and fixture plugins, registered by ``tests/conftest.py``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def binary(name: str) -> str:
    """The path of an installed program the test needs; fails the test if it is missing."""
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: run `make install` first")
    return path
