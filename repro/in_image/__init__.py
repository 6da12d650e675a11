"""Scripts that run inside built images, not in repro's process: the smoke test's checks
(``import_check.py``, ``help_check.py``, ``notebook_check.py``, copied to ``/opt/repro``),
what a built image holds (``image_facts.py``, ``probe.image_facts``), uv's index settings
(``uv_env.py``) and the kernel of ``repro lab`` (``lab_kernel.py``).

They run on the image's Python (2.7 as well as 3.x for most), so they import nothing of
repro and keep old-style code; ruff's and mypy's settings for them are in pyproject.toml.
This package only hands their text out (:func:`read`).
"""

from importlib import resources


def read(name: str) -> str:
    """The text of the in-image script ``name`` (``"import_check.py"``)."""
    return resources.files("repro.in_image").joinpath(name).read_text("utf-8")
