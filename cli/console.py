"""What every CLI command shares: the consoles and the settings chosen by --config."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from cchc.settings import Settings, load_settings

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


class CliState:
    """Set by the root callback from --config; read by every command."""

    config: Path | None = None
    log_json: bool = False


def current_settings() -> Settings:
    return load_settings(CliState.config)
