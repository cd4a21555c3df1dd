"""`mypy --strict` accepts the README's Python examples as users write them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def readme_examples() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.DOTALL | re.MULTILINE)


def run_mypy(tmp_path: Path, name: str, source: str) -> subprocess.CompletedProcess[str]:
    path = tmp_path / name
    path.write_text(source, encoding="utf-8")
    # The package's own modules are checked by the project's mypy run (and its
    # generated _core stub is not --strict clean); here only the example is.
    config = tmp_path / "mypy.ini"
    config.write_text("[mypy]\nstrict = True\n\n[mypy-ome_writers.*]\nignore_errors = True\n")
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--config-file",
            str(config),
            "--python-version",
            "3.10",
            "--cache-dir",
            str(tmp_path / "mypy-cache"),
            str(path),
        ],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        # The source tree (with py.typed and the _core stub): mypy cannot follow
        # the import hook of an editable install.
        env={"MYPYPATH": str(ROOT / "python"), "PATH": ""},
    )


def test_readme_examples_pass_mypy_strict(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    examples = readme_examples()
    assert examples, "the README has no ```python example"
    for i, source in enumerate(examples):
        result = run_mypy(tmp_path, f"readme_example_{i}.py", source)
        assert result.returncode == 0, f"example {i}:\n{source}\n{result.stdout}{result.stderr}"


def test_mypy_strict_still_rejects_a_wrong_dimensions_value(tmp_path: Path) -> None:
    # The check has teeth: a list of the wrong type is still an error.
    pytest.importorskip("mypy")
    source = (
        "from ome_writers import AcquisitionSettings\n"
        'AcquisitionSettings(root_path="x.ome.zarr", dimensions=[1, 2], dtype="uint16")\n'
    )
    result = run_mypy(tmp_path, "wrong.py", source)
    assert result.returncode == 1
    assert 'incompatible type "int"; expected "Dimension"' in result.stdout
