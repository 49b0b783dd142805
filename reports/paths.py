"""Where the reports and bundles go: out/ beside the config file; bundles in `storage.bundle_dir`."""

from __future__ import annotations

from pathlib import Path

from cchc.settings import Settings
from indicators import Period


def default_out_dir(settings: Settings) -> Path:
    """out/ next to the config file (the folder of settings.source_file)."""
    return Path(settings.source_file).resolve().parent / "out"


def bundle_path(settings: Settings, unit: str | None, period: Period) -> Path:
    return settings.storage.bundle_dir / bundle_name(unit, period)


def bundle_name(unit: str | None, period: Period) -> str:
    return f"{unit or 'all-units'}-{period.key.replace('..', '_to_')}.wacz"
