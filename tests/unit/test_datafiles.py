"""Every shipped data file is read through one loader that checks its schema version."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from repro import datafiles
from repro.errors import ReproError

DATA = Path(__file__).resolve().parents[2] / "repro" / "data"


def test_every_json_data_file_is_registered_and_loads_with_its_provenance() -> None:
    shipped = {p.name for p in DATA.glob("*.json")}
    assert shipped == set(datafiles.SCHEMAS)
    for name in sorted(shipped):
        doc = datafiles.load(name)
        assert doc["schema_version"] == datafiles.SCHEMAS[name], name
        assert doc.get("generated_by"), name  # the script that regenerates it


def test_a_file_of_another_schema_is_refused_with_its_generator_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = datafiles.read_bytes("shared_libs.json")
    newer = {**json.loads(real), "schema_version": 99}
    monkeypatch.setattr(datafiles, "read_bytes", lambda name: json.dumps(newer).encode())
    with pytest.raises(ReproError) as caught:
        datafiles.load("shared_libs.json")
    assert "repro/data/shared_libs.json has schema_version 99" in caught.value.message
    assert caught.value.hint == f"regenerate it with {newer['generated_by']}"


def test_a_name_no_data_file_has_is_a_bug() -> None:
    with pytest.raises(KeyError):
        datafiles.load("no_such.json")
