"""Unit tests never reach PyPI: release dates come from the data shipped in repro/data."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REPRO_OFFLINE", "1")
