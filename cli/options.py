"""One meaning per option across verbs, and help that names values the way an operator types them.

    -u/--unit     a unit id (repeatable where a verb takes several)     -p/--probe   a probe name
    -o/--out      the file or folder written                             -F/--format  the output format
    --period      a period (no short form: -p is the probe)              -f/--fault   a simulated fault
    -c/--config   the config file (before the verb)                      -v/--verbose log more, tracebacks

The help column shows UNIT, PROBE, PERIOD, PATH, N … or the choices (html|pdf|xlsx), never a Python type.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Sequence
from enum import StrEnum
from typing import Annotated, Any, get_args

import typer

from cchc.settings import Settings
from probes import PROBES

PROBE_NAMES = tuple(PROBES)
# A choice typer validates and completes; a member is a str, equal to the probe's name.
ProbeName = StrEnum("ProbeName", [(name, name) for name in PROBE_NAMES])  # type: ignore[misc]


def complete_units(incomplete: str) -> list[str]:
    """Shell completion of unit ids from the config file (the default one: completion sees no --config)."""
    from cchc.errors import CchcError
    from cchc.settings import load_settings

    try:
        settings = load_settings()
    except (CchcError, OSError):
        return []
    return [u.id for u in settings.unit if u.id.startswith(incomplete)]


ProbesOption = Annotated[
    list[ProbeName] | None,
    typer.Option("--probe", "-p", help="Only this probe. Repeatable.", show_default=False),
]
UnitsOption = Annotated[
    list[str] | None,
    typer.Option(
        "--unit", "-u", help="Only this unit id (see `cchc units`). Repeatable.", autocompletion=complete_units,
        show_default=False,
    ),
]  # fmt: skip
PERIOD_HELP = "2023-09, 2023-Q3, 2023-H1, 2023, 2023-01..2023-08 or ytd"


def tidy_help(command: Any) -> None:
    """Give every parameter of every verb a metavar an operator reads: its choices, a word for its value, or
    nothing for a flag (typer 0.29 would show <bool>, <list[str]>, <str>: Python's type names)."""
    from typer.core import TyperArgument, TyperOption

    for param in _walk(command):
        if param.metavar is None:
            param.metavar = _metavar(param)
    # The type column of typer's help: the metavar (typer shows an argument's type name there, and the --help
    # option it makes for each context is never in the command's own parameters).
    for kind in (TyperArgument, TyperOption):
        kind.display_type_rich = _display_type  # type: ignore[method-assign,assignment]


def _display_type(param: Any, ctx: Any) -> str | None:
    """An argument's name column already shows its metavar; an option's type column shows it, or nothing."""
    from typer.core import TyperArgument

    if isinstance(param, TyperArgument) and not param.type_descriptor.choices:
        return None
    return (param.metavar if param.metavar is not None else _metavar(param)) or None


def _metavar(param: Any) -> str:
    described = param.type_descriptor
    annotation = described.annotation
    if described.is_list:
        (annotation,) = get_args(annotation)
    if getattr(param, "is_flag", False) or annotation is bool:
        return ""
    if described.choices:
        return "|".join(str(getattr(c, "value", c)) for c in described.choices)
    if described.is_path:
        return "PATH"
    if annotation is int:
        return "N"
    if annotation is float:
        return "SECONDS" if "second" in (param.name or "") else "NUMBER"
    return (param.name or "value").upper().replace("_", "-")


def _walk(command: Any) -> Iterator[Any]:
    """Every parameter of a command and its subcommands (typer's own command classes: it vendors click)."""
    yield from command.params
    for sub in getattr(command, "commands", {}).values():
        yield from _walk(sub)


def unknown_unit(settings: Settings, unit_id: str) -> str:
    """The line for a unit id the config does not have: the closest ids, and where the list is."""
    close = difflib.get_close_matches(unit_id, [u.id for u in settings.unit], n=3, cutoff=0.6)
    guess = f"; did you mean {' or '.join(close)}?" if close else ""
    return f"unknown unit {unit_id!r}{guess} (`cchc units` lists the {len(settings.unit)} units)"


def check_units(settings: Settings, ids: Sequence[str] | None) -> list[str]:
    """The ids as given, each known to the config; an unknown one is a one-line error before any work."""
    from cchc.errors import CchcError

    known = {u.id for u in settings.unit}
    for unit_id in ids or []:
        if unit_id not in known:
            raise CchcError(unknown_unit(settings, unit_id))
    return list(ids or [])
