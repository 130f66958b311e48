"""The import contracts in pyproject.toml hold, checked by every test command, not only `make lint`."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from importlinter.cli import lint_imports

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_every_import_contract_in_pyproject_is_kept(capsys):
    status = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)

    report = capsys.readouterr().out
    assert status == 0, report  # the report names each broken contract and its import chain
    assert "0 broken" in report


def layered_modules() -> set[str]:
    contracts = tomllib.loads(PYPROJECT.read_text())["tool"]["importlinter"]["contracts"]
    [layers] = [c["layers"] for c in contracts if c["type"] == "layers"]
    return {name.strip() for layer in layers for name in re.split(r"[|:]", layer)}


def test_every_module_of_the_service_sits_in_a_layer():
    """A module left out of the layers contract would escape it."""
    root = PYPROJECT.parent
    top = {f"app.{p.stem}" for p in (root / "app").iterdir()
           if p.name != "__init__.py" and (p.suffix == ".py" or (p / "__init__.py").exists())}
    assert top | {"workers", "integrations"} <= layered_modules()
