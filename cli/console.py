"""What every CLI command shares: the consoles and the settings chosen by --config.

In a terminal, tables fit its width; piped or redirected (`cchc status | cat`, `make demo > log`) they are
never cut or wrapped at 80 columns: the console is as wide as the widest row needs (up to PIPED_WIDTH).
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from cchc.settings import Settings, load_settings

PIPED_WIDTH = 4000


def _console(stream: object) -> Console:
    is_tty = bool(getattr(stream, "isatty", lambda: False)())
    return Console(
        stderr=stream is sys.stderr, highlight=False, soft_wrap=True, width=None if is_tty else PIPED_WIDTH
    )


out = _console(sys.stdout)
err = _console(sys.stderr)


class CliState:
    """Set by the root callback from --config; read by every command."""

    config: Path | None = None
    log_json: bool = False
    verbose: bool = False


def current_settings() -> Settings:
    return load_settings(CliState.config)
