"""`cchc discover`: read the portals' own directories, match them to the configured units, and propose the ids
(DonViID, national id, MA_COQUAN, field ids) as a diff of the config; `--write` applies it.

The file is edited with tomlkit, so its comments and layout stay; a changed value keeps its comment, followed
by how the value was found. The new file is validated before it replaces the old one.
"""

from __future__ import annotations

import asyncio
import difflib
import os
import tempfile
import tomllib
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any
from zoneinfo import ZoneInfo

import tomlkit
import typer
from rich.markup import escape
from rich.table import Table
from tomlkit.container import Container
from tomlkit.items import AoT, Item
from tomlkit.items import Table as TomlTable

from cchc.errors import ConfigError
from cchc.settings import config_path, settings_from_mapping
from cli.console import CliState, current_settings, err, out

if TYPE_CHECKING:  # the probes and the crawler are imported when the verb runs, not when any verb starts
    from probes.discovery import Change

EXIT_FINDINGS = 1
# Where a key the config does not have yet goes: after the key it belongs with.
ANCHORS = {"dvc_linh_vuc_ids": "dvc_linh_vuc", "national_id": "dvc_donvi_id", "ma_coquan": "national_id",
           "v1_department_id": "ma_coquan", "v1_department_code": "v1_department_id"}  # fmt: skip


def discover_command(
    write: Annotated[
        bool, typer.Option("--write", help="Apply the proposed changes to the config file (comments kept).")
    ] = False,
) -> None:
    """Read the portals' directories, match our units by id, code or name, and print the config changes as a
    diff, each with how it was found. Exit 1 when a unit was not found, or found twice (the findings)."""
    from cli.wiring import check_contact, fetch_policy
    from crawler import HttpFetcher
    from probes.discovery import Discovery, discover

    settings = current_settings()
    check_contact(settings)
    path = config_path(CliState.config)

    async def run() -> Discovery:
        async with HttpFetcher(fetch_policy(settings)) as fetcher:
            return await discover(settings, fetcher)

    result = asyncio.run(run())
    for line in result.read:
        out.print(f"read {line}", markup=False)
    if result.changes:
        out.print(change_table(result.changes))
    else:
        out.print("the configured ids agree with the portals: nothing to change")
    for finding in result.findings:
        err.print(f"finding: {finding}", markup=False)
    text = path.read_text(encoding="utf-8")
    today = datetime.now(ZoneInfo(settings.inspection.timezone)).date().isoformat()
    changed = apply_changes(text, result.changes, f"cchc discover {today}")
    diff = "".join(difflib.unified_diff(text.splitlines(keepends=True), changed.splitlines(keepends=True),
                                        fromfile=str(path), tofile=f"{path} (proposed)"))  # fmt: skip
    if diff:
        out.print(diff, markup=False, highlight=False, end="")
    if write and changed != text:
        _check(changed, path)
        _replace(path, changed)
        out.print(f"{len(result.changes)} changes written to {path}")
    elif result.changes and not write:
        out.print("run again with --write to apply them")
    if result.findings:
        raise typer.Exit(EXIT_FINDINGS)


def change_table(changes: list[Change]) -> Table:
    table = Table(title="Proposed config changes")
    for column in ("key", "configured", "found", "how"):
        table.add_column(column)
    for c in changes:
        table.add_row(*(escape(text) for text in (c.path, _show(c.old), _show(c.new), c.how)))
    return table


def _show(value: Any) -> str:
    if value in (None, "", {}):
        return "—"
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)


# --- editing the TOML file ---------------------------------------------------------------------------------------


def apply_changes(text: str, changes: list[Change], note: str) -> str:
    """The config text with each change applied in place: the rest of the file, comments included, as it was."""
    document = tomlkit.parse(text)
    for change in changes:
        table = _table_of(document, change)
        value: Any = change.new
        if isinstance(change.new, dict):
            inline = tomlkit.inline_table()
            inline.update(change.new)
            value = inline
        item = tomlkit.item(value)
        existing = table.get(change.key) if change.key in table else None
        comment = existing.trivia.comment if isinstance(existing, Item) else ""
        old_note = comment.lstrip("#").strip()
        if existing is not None:
            table[change.key] = item
        else:
            _insert(table, change.key, item)
        found = f"{change.how} ({note})"
        new_item = table.value.item(change.key) if isinstance(table, TomlTable) else table.item(change.key)
        assert isinstance(new_item, Item)
        new_item.comment(f"{old_note} → {found}" if old_note else found)
        if existing is not None and isinstance(existing, Item):
            new_item.trivia.comment_ws = existing.trivia.comment_ws or "  "
    return tomlkit.dumps(document)


def _table_of(document: tomlkit.TOMLDocument, change: Change) -> TomlTable | Container:
    if change.table == "unit":
        units = document.get("unit")
        if not isinstance(units, AoT):
            raise ConfigError("config", [f"{change.path}: the config has no [[unit]] tables"])
        for table in units:
            if isinstance(table, TomlTable) and table.get("id") == change.unit:
                return table
        raise ConfigError("config", [f"{change.path}: no [[unit]] with id {change.unit!r}"])
    node: Any = document
    for part in change.table.split("."):
        node = node[part]
    assert isinstance(node, TomlTable | Container)
    return node


def _insert(table: TomlTable | Container, key: str, item: Item) -> None:
    """A new key right after the key it belongs with, so that it does not land after the comment that opens the
    next table; at the end when that key is absent."""
    container = table.value if isinstance(table, TomlTable) else table
    anchor = ANCHORS.get(key)
    keys = [k.key if k is not None else None for k, _ in container.body]
    if anchor is not None and anchor in keys:
        container._insert_at(keys.index(anchor) + 1, key, item)  # tomlkit's own insertion; no public twin
    else:
        table.add(key, item)


def _check(text: str, path: Path) -> None:
    """The new file must be a valid config before it replaces the old one."""
    try:
        settings_from_mapping(tomllib.loads(text), source=path)
    except (tomllib.TOMLDecodeError, ConfigError) as exc:
        raise ConfigError(path, [f"the proposed config is not valid, nothing written: {exc}"]) from None


def _replace(path: Path, text: str) -> None:
    handle, temporary = tempfile.mkstemp(prefix=path.name + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        Path(temporary).chmod(path.stat().st_mode & 0o777)
        Path(temporary).replace(path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
