from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import engine as engine


@pytest.fixture
def cleanup_images(engine: object) -> Iterator[list[str]]:
    """Tags a test creates; removed afterwards so runs do not pile up images."""
    tags: list[str] = []
    yield tags
    for tag in tags:
        engine.remove_image(tag)  # type: ignore[attr-defined]
