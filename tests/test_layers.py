"""The floors of the house (docs/architecture.md). import-linter keeps the packages (`make test` runs
`lint-imports`); scheduler.py is a module it cannot take as a root, so its own imports are checked here."""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
OURS = {"cchc", "cli", "crawler", "evidence", "probes", "indicators", "reports", "web", "sim", "scheduler"}
BELOW_THE_DAEMON = {"cchc", "crawler", "evidence", "probes", "indicators", "reports"}


def imported_packages(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found & OURS


def test_the_daemon_imports_only_the_floors_below_it() -> None:
    above_or_apart = imported_packages(REPO / "scheduler.py") - BELOW_THE_DAEMON
    assert not above_or_apart, f"scheduler.py imports {sorted(above_or_apart)}: the daemon may not climb up"


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    climbing = tmp_path / "scheduler.py"
    climbing.write_text(
        "from cli.wiring import open_store\nimport web.app\nfrom evidence import EvidenceStore\n"
    )
    assert imported_packages(climbing) - BELOW_THE_DAEMON == {"cli", "web"}
