"""The errors cchc-watch raises on purpose, each carrying the thing that was wrong.

    CchcError
     └── ConfigError        a config file that cannot be used (file, key path, what was expected)

Capture, evidence and parse errors live beside their rooms (crawler/, evidence/, probes/)
and derive from CchcError too, so the CLI can turn any of them into one clear line.
"""

from __future__ import annotations

from pathlib import Path


class CchcError(Exception):
    """Root of every error cchc-watch raises deliberately."""


class ConfigError(CchcError):
    """A configuration file that cannot be used; one problem per line, each naming file and key."""

    def __init__(self, file: Path | str, problems: list[str]) -> None:
        self.file = str(file)
        self.problems = problems
        super().__init__("\n".join(f"{self.file}: {p}" for p in problems))
