"""What a failed command says: one line on stderr that names what failed and what to do, and a documented exit
code (docs/cli.md). `-v` adds the traceback; without it, none reaches the user.

    0  done
    1  a named error: an unknown unit, a missing file or folder, a check that failed
    2  a usage or configuration error: a bad option, a bad config file, an unsupported database URL
    3  done with failures (a page not read, a job failed), a layout not recognised, a lease held elsewhere
    4  a probe matched none of our units; a daemon's lease taken over
    5  the evidence database cannot be reached
   70  a bug: the message names the exception; run again with -v and report the traceback
  130  interrupted
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path

from typer import Abort, Exit
from typer._click.exceptions import ClickException, UsageError  # typer vendors click: its own classes

from cchc.errors import CchcError, ConfigError

EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_DATABASE = 5
EXIT_BUG = 70
EXIT_INTERRUPTED = 130


@dataclass(frozen=True)
class Failure:
    lines: list[str]
    code: int


def describe(exc: BaseException, database_url: str | None = None) -> Failure:
    """The one line (a config file: one per problem) and exit code for an exception that ended a command."""
    import sqlalchemy.exc

    if isinstance(exc, UsageError):
        where = exc.ctx.command_path if exc.ctx is not None else "cchc"
        return Failure([f"error: {_first_line(exc.format_message())} (see `{where} --help`)"], EXIT_USAGE)
    if isinstance(exc, ClickException):
        return Failure([f"error: {_first_line(exc.format_message())}"], exc.exit_code or EXIT_ERROR)
    if isinstance(exc, Exit):
        return Failure([], exc.exit_code)
    if isinstance(exc, Abort | KeyboardInterrupt):
        return Failure(["interrupted"], EXIT_INTERRUPTED)
    if isinstance(exc, ConfigError):
        return Failure(str(exc).splitlines(), EXIT_USAGE)
    if isinstance(exc, CchcError):
        return Failure([_first_line(str(exc))], EXIT_ERROR)
    if isinstance(exc, sqlalchemy.exc.OperationalError | sqlalchemy.exc.InterfaceError):
        reason = _first_line(str(exc.orig) if exc.orig is not None else str(exc))
        return Failure(
            [
                f"the evidence database {shown_url(database_url)}cannot be used: {reason}; check "
                "storage.database_url (or $CCHC_DATABASE_URL) and that the server is running and reachable"
            ],
            EXIT_DATABASE,
        )
    if isinstance(exc, OSError):
        target = exc.filename if exc.filename is not None else ""
        reason = exc.strerror or type(exc).__name__
        missing_folder = (
            isinstance(exc, FileNotFoundError) and target and not Path(str(target)).parent.is_dir()
        )
        hint = (
            f"; the folder {Path(str(target)).parent} does not exist: create it first"
            if missing_folder
            else ""
        )
        return Failure([f"{target}: {reason}{hint}" if target else f"error: {reason}"], EXIT_ERROR)
    return Failure(
        [
            f"internal error: {type(exc).__name__}: {_first_line(str(exc))}; run again with -v and report the traceback"
        ],
        EXIT_BUG,
    )


def shown_url(url: str | None) -> str:
    """The database URL with its password hidden, followed by a space; empty when unknown."""
    if not url:
        return ""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        return make_url(url).render_as_string(hide_password=True) + " "
    except ArgumentError:
        return ""


def traceback_text(exc: BaseException) -> str:
    return "".join(traceback.format_exception(exc))


def _first_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[0] if lines else "(no message)"
