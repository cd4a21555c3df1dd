"""The backend names of ome-writers 0.3.2 (issue #15): each needs its library installed."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from ome_writers import AcquisitionSettings, Dimension, create_stream
from ome_writers._backends import BACKENDS

FORMAT_OF = {
    "tensorstore": "ome-zarr",
    "acquire-zarr": "ome-zarr",
    "zarrs-python": "ome-zarr",
    "zarr-python": "ome-zarr",
    "tifffile": "ome-tiff",
}


def _settings(tmp_path: Path, backend: str) -> AcquisitionSettings:
    fmt = FORMAT_OF[backend]
    return AcquisitionSettings(
        root_path=str(tmp_path / ("out.ome.zarr" if fmt == "ome-zarr" else "out.ome.tiff")),
        format={"name": fmt, "backend": backend},
        dtype="uint16",
        dimensions=[Dimension(name="t", count=2), Dimension(name="y", count=4),
                    Dimension(name="x", count=4)],
    )  # fmt: skip


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_a_backend_whose_library_is_missing_names_its_pip_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, backend: str
) -> None:
    spec = BACKENDS[backend]
    real = importlib.util.find_spec

    def find_spec(name: str, *args: Any, **kwargs: Any) -> Any:
        return None if name == spec.modules[-1] else real(name, *args, **kwargs)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    with pytest.raises(ValueError) as info:
        create_stream(_settings(tmp_path, backend))
    message = str(info.value)
    assert f"Install with: pip install 'ome-writers[{spec.extra}]'" in message
    assert f"{spec.modules[-1]} not installed" in message
    assert not list(tmp_path.iterdir()), "nothing is written"


@pytest.mark.parametrize("backend", sorted(BACKENDS))
def test_an_installed_backend_writes_the_output(tmp_path: Path, backend: str) -> None:
    if (missing := BACKENDS[backend].missing()) is not None:
        pytest.fail(f"the test command installs every backend's library: {missing}")
    settings = _settings(tmp_path, backend)
    with create_stream(settings) as stream:
        for i in range(2):
            stream.append(np.full((4, 4), i + 1, "uint16"))
    assert Path(settings.output_path).exists()
