"""The import contracts in pyproject.toml hold, checked by every test command, not only `make lint`."""

from __future__ import annotations

from pathlib import Path

from importlinter.cli import lint_imports

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def test_every_import_contract_in_pyproject_is_kept(capsys):
    status = lint_imports(config_filename=str(PYPROJECT), no_cache=True, no_logo=True)

    report = capsys.readouterr().out
    assert status == 0, report  # the report names each broken contract and its import chain
    assert "0 broken" in report
