"""Build pure-Python wheels from a folder, without a build backend or network (tests only)."""

from __future__ import annotations

import base64
import hashlib
import zipfile
from pathlib import Path

FIXTURE_PACKAGES = Path(__file__).resolve().parents[2] / "fixtures" / "packages"


def _digest(data: bytes) -> str:
    raw = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"sha256={raw}"


def build_wheel(source: Path, name: str, version: str, out: Path) -> Path:
    """A ``py3-none-any`` wheel of every file under ``source`` (its top-level packages)."""
    dist = name.replace("-", "_")
    info = f"{dist}-{version}.dist-info"
    files: dict[str, bytes] = {
        p.relative_to(source).as_posix(): p.read_bytes()
        for p in sorted(source.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }
    tops = sorted({rel.split("/")[0] for rel in files})
    files[f"{info}/METADATA"] = (
        f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Python: >=3.6\n"
    ).encode()
    files[f"{info}/WHEEL"] = (
        b"Wheel-Version: 1.0\nGenerator: repro-tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    )
    files[f"{info}/top_level.txt"] = ("\n".join(tops) + "\n").encode()
    record = [f"{rel},{_digest(data)},{len(data)}" for rel, data in files.items()]
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    out.mkdir(parents=True, exist_ok=True)
    wheel = out / f"{dist}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as zf:
        for rel, data in files.items():
            zf.writestr(zipfile.ZipInfo(rel, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return wheel


def oldapi_wheelhouse(out: Path) -> Path:
    """repro-fixture-oldapi 1.0 (has legacy_mean) and 2.0 (removed it), as wheels in ``out``."""
    root = FIXTURE_PACKAGES / "repro-fixture-oldapi"
    for version in ("1.0", "2.0"):
        build_wheel(root / version, "repro-fixture-oldapi", version, out)
    return out
