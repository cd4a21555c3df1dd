"""The committed `_core.pyi` matches what nanobind's stubgen makes of the module."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

STUB = Path(__file__).parents[2] / "python" / "ome_writers" / "_core.pyi"


def test_core_stub_is_current(tmp_path: Path) -> None:
    pytest.importorskip("nanobind.stubgen")
    out = tmp_path / "_core.pyi"
    subprocess.run(
        [sys.executable, "-m", "nanobind.stubgen", "-q", "-m", "ome_writers._core", "-o", str(out)],
        check=True,
    )
    assert out.read_text() == STUB.read_text(), (
        "python/ome_writers/_core.pyi is out of date; regenerate it with "
        "`python -m nanobind.stubgen -m ome_writers._core -o python/ome_writers/_core.pyi`"
    )


def test_package_is_typed() -> None:
    assert (STUB.parent / "py.typed").exists()
