"""Where the reports and bundles go: out/ beside the config file, bundles in out/bundles/."""

from __future__ import annotations

from pathlib import Path

from cchc.settings import Settings
from indicators import Period


def default_out_dir(settings: Settings) -> Path:
    """out/ next to the config file (the folder of settings.source_file)."""
    return Path(settings.source_file).resolve().parent / "out"


def bundle_dir(out_dir: Path) -> Path:
    return out_dir / "bundles"


def bundle_name(unit: str | None, period: Period) -> str:
    return f"{unit or 'all-units'}-{period.key.replace('..', '_to_')}.wacz"
