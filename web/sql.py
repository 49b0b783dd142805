"""The analysts' read-only SQL over the evidence database: one query at a time, stopped at a timeout, at most
a row limit and a byte limit (`truncated` says when either cut it), and unable to write by construction (the
connection cannot, whatever the SQL says).

    CchcError
     └── SqlError            the SQL page could not answer: the database cannot be opened or reached
          ├── SqlRefused     the query would write, or holds more than one statement (names what was refused)
          ├── SqlTimeout     the query ran past its statement timeout (carries the timeout)
          ├── SqlFailed      the database rejected the query as written: its own words (syntax, unknown column…)
          └── SqlUnsafeRole  PostgreSQL: the console's role can do more than read (a superuser): nothing runs

SQLite: the database file is opened through sqlite3 with a `mode=ro` URI and `PRAGMA query_only`, no database
can be attached, no string or blob may grow past the byte limit (SQLITE_LIMIT_LENGTH), and an authorizer lets
through only reading (SELECT, READ, recursive CTEs, a few pragmas that report) and the functions on an
allow-list (no load_extension, no fts3_tokenizer, nothing a later SQLite adds until it is looked at);
everything else is refused while the statement is compiled, before it runs. A progress handler stops the
statement at its deadline. sqlite3 itself runs one statement per call.

PostgreSQL: by default the console connects as its own role (`web.sql_role`, SELECT grants only, made by
`cchc db init-readonly`), not as the evidence database's: a read-only transaction stops writes to tables, not
what a superuser's functions can do (pg_read_file, pg_terminate_backend, lo_export), so a role that is a
superuser, or may read server files or signal backends, is refused unless `web.sql_allow_superuser` says
otherwise. Each query runs in its own connection, in a transaction opened `READ ONLY` with a `SET LOCAL
statement_timeout`, always rolled back, through server-side cursors (`DECLARE … CURSOR FOR <query>`), so only a
query (SELECT, WITH, VALUES, TABLE) is accepted, and psycopg sends it with the extended protocol, which holds
exactly one statement: the server refuses a second one after ';'. The query is first declared to learn its
columns, then read through a wrapper that counts each row's bytes on the server: once the running total passes
the byte limit, the server sends NULLs and a flag, never the values, so no answer larger than the limit
crosses the wire. The query's first word is looked at beforehand only to name what a refusal refused.
"""

from __future__ import annotations

import math
import os
import re
import sqlite3
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import psycopg
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool

from cchc.errors import CchcError
from cchc.settings import Settings

__all__ = [
    "EXAMPLES",
    "TABLE_DESCRIPTIONS",
    "ExampleQuery",
    "QueryResult",
    "ReadOnlySql",
    "SqlError",
    "SqlFailed",
    "SqlRefused",
    "SqlTimeout",
    "SqlUnsafeRole",
    "TableDoc",
    "console_url",
]

PASSWORD_ENV = "CCHC_SQL_PASSWORD"  # the password of web.sql_role, when the server asks for one


# --- errors -------------------------------------------------------------------------------------------------


class SqlError(CchcError):
    """The SQL page could not answer a query."""


class SqlRefused(SqlError):
    """A query that would write, change the session or run more than one statement; `refused` names what."""

    def __init__(self, refused: str, message: str | None = None) -> None:
        self.refused = refused
        super().__init__(message or f"Chỉ được phép truy vấn đọc (SELECT): {refused} is refused")

    @classmethod
    def by_database(cls, words: str) -> SqlRefused:
        """A refusal the database itself worded ("cannot execute INSERT in a read-only transaction")."""
        return cls(words, f"Chỉ được phép truy vấn đọc (SELECT): {words}")

    @classmethod
    def multiple_statements(cls) -> SqlRefused:
        return cls(
            "a second statement",
            "Mỗi lần chỉ chạy một câu lệnh: only one statement per query is allowed (remove what follows ';')",
        )


class SqlTimeout(SqlError):
    """A query stopped at its statement timeout."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        super().__init__(f"Truy vấn bị dừng sau {timeout_s:g} s (statement timeout)")


class SqlFailed(SqlError):
    """A query the database rejected as written (syntax, unknown table or column, a runtime error): its words."""


class SqlUnsafeRole(SqlError):
    """The console's PostgreSQL role can do more than read: it is refused before any query runs."""

    def __init__(self, role: str, powers: list[str]) -> None:
        self.role = role
        self.powers = powers
        super().__init__(
            f"Trang SQL không chạy với vai trò {role!r} ({', '.join(powers)}): such a role can read server files "
            "or stop sessions from a SELECT; run `cchc db init-readonly` and leave web.sql_database_url empty, "
            "or set web.sql_allow_superuser = true"
        )


# --- values -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class QueryResult:
    """What a query returned: at most row_limit rows and max_bytes bytes, and whether more existed."""

    columns: list[str]
    rows: list[tuple[Any, ...]]
    truncated: bool
    elapsed_ms: int


@dataclass(frozen=True)
class TableDoc:
    """A table as the SQL page shows it: its name, what it holds (Vietnamese) and its columns with their types."""

    name: str
    description: str
    columns: list[tuple[str, str]]


@dataclass(frozen=True)
class ExampleQuery:
    """A saved query for the SQL page: a Vietnamese title and SQL that runs on SQLite and PostgreSQL alike."""

    title: str
    sql: str


TABLE_DESCRIPTIONS: dict[str, str] = {
    "run": "Mỗi lượt chạy các probe: theo lịch, thủ công, đột xuất hay demo; trạng thái và số kết quả",
    "blob": "Nội dung thô, đặt tên theo SHA-256 và chỉ lưu một lần (bản thân các byte nằm ở kho blob)",
    "snapshot": "Mỗi lần thu thập đã lưu: yêu cầu, phản hồi, kết quả và vị trí trong sổ cái (chuỗi băm)",
    "snapshot_blob": "Các blob của một snapshot theo vai trò: thân phản hồi, thân yêu cầu, DOM, ảnh chụp…",
    "checkpoint": "Chữ ký Ed25519 xác nhận đầu chuỗi băm, sau mỗi lượt chạy hoặc khi khôi phục",
    "observation": "Dữ kiện parser đọc được từ một snapshot: đơn vị, chỉ số, kỳ, giá trị",
    "parse_failure": "Snapshot có bố cục parser không nhận ra: ghi là lỗi, không bao giờ là số 0",
    "daemon_lease": "Quyền lập lịch của daemon: người giữ và hạn, gia hạn bằng heartbeat",
    "job_run": "Mỗi lần chạy một việc theo lịch: đến hạn lúc nào, kết thúc ra sao, lượt chạy nào",
    "missed_run": "Thời điểm đến lịch đã trôi qua mà không chạy, và cách daemon xử lý",
    "alembic_version": "Phiên bản lược đồ của cơ sở dữ liệu (Alembic): lệnh `cchc db upgrade` nâng cấp",
    "event": "Chuỗi băm thứ hai: lượt chạy bắt đầu/kết thúc, mỗi lần parser đọc một snapshot, các bản ghi bị gắn cờ",
    "store_identity": "Mã định danh của kho bằng chứng, ghi trong checkpoint, nhật ký và tệp nhân chứng",
    "timestamp_token": "Dấu thời gian RFC 3161 của tổ chức cấp dấu thời gian trên chữ ký của mỗi điểm kiểm (checkpoint)",
    "timestamp_attempt": "Các lần xin dấu thời gian chưa được cấp (tổ chức cấp không trả lời, từ chối, hay trả lời không hợp lệ)",
}

EXAMPLES: list[ExampleQuery] = [
    ExampleQuery(
        "Số snapshot theo kết quả của từng probe",
        "SELECT probe, outcome, COUNT(*) AS snapshots\n"
        "FROM snapshot\n"
        "GROUP BY probe, outcome\n"
        "ORDER BY probe, outcome",
    ),
    ExampleQuery(
        "Quan sát mới nhất của một đơn vị (đổi 'thanhpho' thành đơn vị cần xem)",
        "SELECT o.metric, o.period, o.value, o.text, o.parser, o.derived_at, o.snapshot_id\n"
        "FROM observation AS o\n"
        "WHERE o.unit = 'thanhpho'\n"
        "  AND o.derived_at = (SELECT MAX(x.derived_at) FROM observation AS x\n"
        "                      WHERE x.unit = o.unit AND x.metric = o.metric AND x.period = o.period)\n"
        "ORDER BY o.metric, o.period",
    ),
    ExampleQuery(
        "Lỗi phân tích (parse failure) kèm lý do và trang gốc",
        "SELECT f.created_at, f.probe, f.unit, f.parser, f.parser_version, f.reason, s.url, f.snapshot_id\n"
        "FROM parse_failure AS f\n"
        "JOIN snapshot AS s ON s.id = f.snapshot_id\n"
        "ORDER BY f.created_at DESC",
    ),
    ExampleQuery(
        # Date arithmetic has no common spelling in SQLite and PostgreSQL: the week is the last seven days that
        # had runs, read off the date part of started_at, which both write as YYYY-MM-DD first.
        "Các lượt chạy trong 7 ngày gần nhất có chạy",
        "SELECT id, trigger, surprise, status, started_at, finished_at, counts, note\n"
        "FROM run\n"
        "WHERE SUBSTR(CAST(started_at AS TEXT), 1, 10) IN (\n"
        "  SELECT DISTINCT SUBSTR(CAST(started_at AS TEXT), 1, 10) FROM run ORDER BY 1 DESC LIMIT 7)\n"
        "ORDER BY started_at DESC",
    ),
    ExampleQuery(
        "Các blob lớn nhất và snapshot dùng chúng",
        "SELECT b.sha256, b.size, b.stored_size, COUNT(l.id) AS links, MIN(l.role) AS role,\n"
        "       MIN(l.snapshot_id) AS first_snapshot\n"
        "FROM blob AS b\n"
        "LEFT JOIN snapshot_blob AS l ON l.sha256 = b.sha256\n"
        "GROUP BY b.sha256, b.size, b.stored_size\n"
        "ORDER BY b.size DESC\n"
        "LIMIT 20",
    ),
]


# --- the console --------------------------------------------------------------------------------------------


def console_url(settings: Settings, environ: Mapping[str, str] | None = None) -> str:
    """The URL the SQL page connects with: web.sql_database_url; else SQLite's storage file (opened read-only),
    or PostgreSQL's storage URL as the console's own role, web.sql_role (with $CCHC_SQL_PASSWORD, if set)."""
    if settings.web.sql_database_url:
        return settings.web.sql_database_url
    storage = make_url(settings.storage.database_url)
    if storage.get_backend_name() != "postgresql":
        return settings.storage.database_url
    password = (os.environ if environ is None else environ).get(PASSWORD_ENV) or None
    return storage.set(username=settings.web.sql_role, password=password).render_as_string(
        hide_password=False
    )


class ReadOnlySql:
    """Read-only SQL over one database URL (sqlite:///… or postgresql+psycopg://…).

    Every query gets a connection of its own, so this object is safe to share between threads, and nothing a
    query leaves in a session (a PostgreSQL advisory lock, a prepared statement) outlives it.
    """

    def __init__(
        self,
        database_url: str,
        *,
        timeout_s: float = 5.0,
        row_limit: int = 1000,
        max_bytes: int = 5_000_000,
        allow_superuser: bool = False,
    ) -> None:
        if not timeout_s > 0:
            raise ValueError(f"timeout_s must be positive, not {timeout_s!r}")
        if row_limit < 1:
            raise ValueError(f"row_limit must be at least 1, not {row_limit!r}")
        if max_bytes < 1:
            raise ValueError(f"max_bytes must be at least 1, not {max_bytes!r}")
        self.timeout_s = timeout_s
        self.row_limit = row_limit
        self.max_bytes = max_bytes
        url = make_url(database_url)
        self.dialect = url.get_backend_name()
        self._backend: _Backend
        if self.dialect == "sqlite":
            self._backend = _SqliteBackend(url.database or "", timeout_s)
        elif self.dialect == "postgresql":
            self._backend = _PostgresBackend(database_url, timeout_s, allow_superuser=allow_superuser)
        else:
            raise SqlError(
                f"Không hỗ trợ cơ sở dữ liệu {self.dialect!r}: only SQLite and PostgreSQL are supported"
            )

    @classmethod
    def for_settings(cls, settings: Settings) -> ReadOnlySql:
        """The SQL page's console: console_url(), with the web.sql_* limits."""
        web = settings.web
        return cls(console_url(settings), timeout_s=web.sql_timeout_s, row_limit=web.sql_row_limit,
                   max_bytes=web.sql_max_bytes, allow_superuser=web.sql_allow_superuser)  # fmt: skip

    def run(self, query: str) -> QueryResult:
        """Run one read-only query; at most row_limit rows and max_bytes bytes come back, and `truncated` says
        whether more existed."""
        if not query.strip():
            raise SqlFailed("Truy vấn trống: the query is empty")
        if "\x00" in query:
            # Neither SQLite nor libpq can carry a NUL inside a statement; say so rather than fail deep inside.
            raise SqlFailed("Truy vấn chứa ký tự NUL (\\x00): a query cannot contain a null character")
        try:
            query.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise SqlFailed(
                f"Truy vấn không phải UTF-8 hợp lệ: {exc.reason} at character {exc.start}"
            ) from exc
        started = time.monotonic()
        columns, rows, truncated = self._backend.run(query, self.row_limit, self.max_bytes)
        elapsed_ms = round((time.monotonic() - started) * 1000)
        return QueryResult(columns, rows, truncated, elapsed_ms)

    def schema(self) -> list[TableDoc]:
        """The tables (and views) a query can read, with their columns and, for known tables, what they hold."""
        tables: dict[str, list[tuple[str, str]]] = {}
        for table, column, kind in self._backend.columns():
            tables.setdefault(table, []).append((column, kind))
        return [TableDoc(name, TABLE_DESCRIPTIONS.get(name, ""), columns) for name, columns in tables.items()]

    def close(self) -> None:
        self._backend.close()

    def __enter__(self) -> ReadOnlySql:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.close()


Rows = list[tuple[Any, ...]]
SCHEMA_ROWS, SCHEMA_BYTES = 100_000, 50_000_000  # the schema listing's own bounds


def value_bytes(value: Any) -> int:
    """About how many bytes a value takes once shown (a blob as \\xNN text)."""
    if value is None or isinstance(value, bool | int | float):
        return 8
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))
    if isinstance(value, bytes | bytearray | memoryview):
        return 4 * len(value)
    return len(str(value))


def collect(rows: Iterable[tuple[Any, ...]], max_rows: int, max_bytes: int) -> tuple[Rows, bool]:
    """Rows while they fit in max_rows and max_bytes, and whether any were left out."""
    kept: Rows = []
    used = 0
    for row in rows:
        size = sum(value_bytes(v) for v in row)
        if len(kept) == max_rows or used + size > max_bytes:
            return kept, True
        kept.append(row)
        used += size
    return kept, False


class _Backend:
    def run(self, query: str, max_rows: int, max_bytes: int) -> tuple[list[str], Rows, bool]:
        """Columns, at most max_rows rows in at most max_bytes bytes, and whether any were left out."""
        raise NotImplementedError

    def columns(self) -> list[tuple[str, str, str]]:
        """(table, column, type) for every readable table, in table order, then column order."""
        raise NotImplementedError

    def close(self) -> None:
        pass


# --- SQLite -------------------------------------------------------------------------------------------------

_SQLITE_ACTIONS: dict[int, str] = {
    sqlite3.SQLITE_CREATE_INDEX: "CREATE INDEX",
    sqlite3.SQLITE_CREATE_TABLE: "CREATE TABLE",
    sqlite3.SQLITE_CREATE_TEMP_INDEX: "CREATE TEMP INDEX",
    sqlite3.SQLITE_CREATE_TEMP_TABLE: "CREATE TEMP TABLE",
    sqlite3.SQLITE_CREATE_TEMP_TRIGGER: "CREATE TEMP TRIGGER",
    sqlite3.SQLITE_CREATE_TEMP_VIEW: "CREATE TEMP VIEW",
    sqlite3.SQLITE_CREATE_TRIGGER: "CREATE TRIGGER",
    sqlite3.SQLITE_CREATE_VIEW: "CREATE VIEW",
    sqlite3.SQLITE_CREATE_VTABLE: "CREATE VIRTUAL TABLE",
    sqlite3.SQLITE_DELETE: "DELETE",
    sqlite3.SQLITE_DROP_INDEX: "DROP INDEX",
    sqlite3.SQLITE_DROP_TABLE: "DROP TABLE",
    sqlite3.SQLITE_DROP_TEMP_INDEX: "DROP TEMP INDEX",
    sqlite3.SQLITE_DROP_TEMP_TABLE: "DROP TEMP TABLE",
    sqlite3.SQLITE_DROP_TEMP_TRIGGER: "DROP TEMP TRIGGER",
    sqlite3.SQLITE_DROP_TEMP_VIEW: "DROP TEMP VIEW",
    sqlite3.SQLITE_DROP_TRIGGER: "DROP TRIGGER",
    sqlite3.SQLITE_DROP_VIEW: "DROP VIEW",
    sqlite3.SQLITE_DROP_VTABLE: "DROP VIRTUAL TABLE",
    sqlite3.SQLITE_INSERT: "INSERT",
    sqlite3.SQLITE_UPDATE: "UPDATE",
    sqlite3.SQLITE_TRANSACTION: "TRANSACTION",
    sqlite3.SQLITE_SAVEPOINT: "SAVEPOINT",
    sqlite3.SQLITE_ATTACH: "ATTACH",
    sqlite3.SQLITE_DETACH: "DETACH",
    sqlite3.SQLITE_ALTER_TABLE: "ALTER TABLE",
    sqlite3.SQLITE_REINDEX: "REINDEX",
    sqlite3.SQLITE_ANALYZE: "ANALYZE",
}
_SQLITE_READING = frozenset({sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE})
_SQLITE_WRITING_ROWS = frozenset({sqlite3.SQLITE_INSERT, sqlite3.SQLITE_UPDATE, sqlite3.SQLITE_DELETE})
_SQLITE_SCHEMA_TABLES = frozenset(
    {"sqlite_master", "sqlite_temp_master", "sqlite_schema", "sqlite_temp_schema"}
)
# Pragmas whose argument names a table or an index to describe: reading, whatever the argument.
_PRAGMAS_DESCRIBING = frozenset(
    {"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo", "foreign_key_list"}
)
# Pragmas that report a setting when called without a value (with one, they would change it).
_PRAGMAS_REPORTING = frozenset({"table_list", "database_list", "user_version", "journal_mode", "page_count"})
# The functions a query may call: SQLite's core, aggregate, window, date and time, math and JSON functions,
# which compute from their arguments and nothing else. Not load_extension, not fts3_tokenizer (it hands out a
# pointer and, with two arguments, installs one), not fts5 or the FTS and R*Tree helpers (their arguments are
# internal structures), not sqlite_log; and not whatever a later SQLite adds until it is looked at here.
_SQLITE_SAFE_FUNCTIONS = frozenset(
    """
    abs changes char coalesce concat concat_ws format glob hex ifnull iif if instr last_insert_rowid length
    like likelihood likely lower ltrim max min nullif octet_length printf quote random randomblob replace round
    rtrim sign soundex sqlite_compileoption_get sqlite_compileoption_used sqlite_offset sqlite_source_id
    sqlite_version substr substring total_changes trim typeof unhex unicode unistr unistr_quote unlikely upper
    zeroblob
    avg count group_concat string_agg sum total median percentile percentile_cont percentile_disc
    row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value nth_value
    date time datetime julianday unixepoch strftime timediff current_date current_time current_timestamp
    acos acosh asin asinh atan atan2 atanh ceil ceiling cos cosh degrees exp floor ln log log10 log2 mod pi pow
    power radians sin sinh sqrt tan tanh trunc
    json json_array json_array_length json_error_position json_extract json_group_array json_group_object
    json_insert json_object json_patch json_pretty json_quote json_remove json_replace json_set json_type
    json_valid jsonb jsonb_array jsonb_extract jsonb_group_array jsonb_group_object jsonb_insert jsonb_object
    jsonb_patch jsonb_remove jsonb_replace jsonb_set -> ->>
    """.split()  # noqa: SIM905 (grouped by kind, as SQLite's documentation lists them)
)
_PROGRESS_EVERY = 1000  # virtual-machine instructions between two looks at the clock
_SQLITE_MIN_LENGTH_LIMIT = 1_000_000  # a row of the evidence tables always fits


class _SqliteGuard:
    """The authorizer and the progress handler of one query's connection, and what each of them stopped."""

    def __init__(self, deadline: float) -> None:
        self.deadline = deadline
        self.refused: str | None = None
        self.timed_out = False

    def authorize(
        self, action: int, arg1: str | None, arg2: str | None, _database: str | None, _source: str | None
    ) -> int:
        refused = _sqlite_refusal(action, arg1, arg2)
        if refused is None:
            return sqlite3.SQLITE_OK
        if self.refused is None:
            self.refused = refused
        return sqlite3.SQLITE_DENY

    def progress(self) -> int:
        if time.monotonic() > self.deadline:
            self.timed_out = True
            return 1
        return 0


def _sqlite_refusal(action: int, arg1: str | None, arg2: str | None) -> str | None:
    """None when an action only reads; otherwise what is refused, in words the analyst recognises."""
    if action in _SQLITE_READING:
        return None
    if action == sqlite3.SQLITE_FUNCTION:
        name = (arg2 or "").lower()
        return None if name in _SQLITE_SAFE_FUNCTIONS else f"{name}()"
    if action == sqlite3.SQLITE_PRAGMA:
        name = (arg1 or "").lower()
        if name in _PRAGMAS_DESCRIBING or (name in _PRAGMAS_REPORTING and arg2 is None):
            return None
        return f"PRAGMA {arg1}" + (f"={arg2}" if arg2 is not None else "")
    if action in _SQLITE_WRITING_ROWS and (arg1 or "").lower() in _SQLITE_SCHEMA_TABLES:
        # SQLite asks about its schema table before every CREATE and DROP (and when it sets up a table-valued
        # function such as json_each or pragma_table_info), then asks about the statement itself, which is
        # refused below by its own name. A user's own write to sqlite_master is refused by SQLite (no
        # writable_schema pragma passes here), by query_only and by the read-only file.
        return None
    name = _SQLITE_ACTIONS.get(action, f"SQLite action {action}")
    if action in _SQLITE_WRITING_ROWS:
        return f"{name} on {arg1}"
    if action == sqlite3.SQLITE_TRANSACTION:
        return f"{name} ({arg1})"
    if action == sqlite3.SQLITE_ALTER_TABLE:
        return f"{name} {arg2}"  # arg1 is the database
    if action in (sqlite3.SQLITE_ATTACH, sqlite3.SQLITE_DETACH, sqlite3.SQLITE_SAVEPOINT) or arg1 is None:
        return name
    return f"{name} {arg1}"


class _SqliteBackend(_Backend):
    def __init__(self, database: str, timeout_s: float) -> None:
        if not database or database == ":memory:":
            raise SqlError("Cần một tệp cơ sở dữ liệu SQLite: an in-memory database has no evidence to read")
        self.path = Path(database)
        self.timeout_s = timeout_s

    def _connect(self, guard: _SqliteGuard, max_bytes: int) -> sqlite3.Connection:
        # The URI is built from the absolute path (percent-encoded), so a '?' or '#' in a directory name
        # cannot turn into URI parameters and switch off mode=ro.
        uri = self.path.resolve().as_uri() + "?mode=ro"
        try:
            connection = sqlite3.connect(
                uri, uri=True, timeout=self.timeout_s, isolation_level=None, check_same_thread=False
            )
            connection.execute("PRAGMA query_only = ON")
        except sqlite3.Error as exc:
            raise SqlError(f"Không mở được cơ sở dữ liệu {self.path}: {exc}") from exc
        connection.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)  # VACUUM INTO attaches too
        # zeroblob(1e9), printf('%.*c', 1e9, 'x'): no value grows past the byte limit, in SQLite's own memory.
        connection.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, max(max_bytes, _SQLITE_MIN_LENGTH_LIMIT))
        connection.set_authorizer(guard.authorize)
        connection.set_progress_handler(guard.progress, _PROGRESS_EVERY)
        return connection

    def run(self, query: str, max_rows: int, max_bytes: int) -> tuple[list[str], Rows, bool]:
        guard = _SqliteGuard(time.monotonic() + self.timeout_s)
        connection = self._connect(guard, max_bytes)
        try:
            cursor = connection.execute(query)
            columns = [str(d[0]) for d in cursor.description or ()]
            rows, truncated = collect(cursor, max_rows, max_bytes)
            cursor.close()
            return columns, rows, truncated
        except sqlite3.Error as exc:
            raise self._error(exc, guard, max_bytes) from exc
        finally:
            connection.close()

    def _error(self, exc: sqlite3.Error, guard: _SqliteGuard, max_bytes: int) -> SqlError:
        if guard.refused is not None:
            return SqlRefused(guard.refused)
        if guard.timed_out:
            return SqlTimeout(self.timeout_s)
        if isinstance(exc, sqlite3.ProgrammingError) and "one statement at a time" in str(exc):
            return SqlRefused.multiple_statements()
        errorname = getattr(exc, "sqlite_errorname", None)  # absent on errors raised before SQLite runs
        if errorname == "SQLITE_TOOBIG":
            limit = max(max_bytes, _SQLITE_MIN_LENGTH_LIMIT)
            return SqlFailed(
                f"Giá trị quá lớn: a value would be larger than {limit} bytes (web.sql_max_bytes)"
            )
        if errorname in ("SQLITE_READONLY", "SQLITE_AUTH") or "may not be modified" in str(exc):
            return SqlRefused.by_database(str(exc))
        return SqlFailed(str(exc))

    def columns(self) -> list[tuple[str, str, str]]:
        _, rows, _ = self.run(
            "SELECT m.name, p.name, p.type FROM sqlite_master AS m JOIN pragma_table_info(m.name) AS p "
            "WHERE m.type IN ('table', 'view') AND m.name NOT LIKE 'sqlite\\_%' ESCAPE '\\' "
            "ORDER BY m.name, p.cid",
            SCHEMA_ROWS,
            SCHEMA_BYTES,
        )
        return [(str(table), str(column), str(kind)) for table, column, kind in rows]


# --- PostgreSQL ---------------------------------------------------------------------------------------------

_PG_QUERY_WORDS = frozenset({"SELECT", "WITH", "VALUES", "TABLE"})
# read_only_sql_transaction, active_sql_transaction (leaving read-only mode), insufficient_privilege
_PG_REFUSED_STATES = frozenset({"25006", "25001", "42501"})
_WORD = re.compile(r"[A-Za-z_]+")
# Predefined roles whose members can do from a SELECT what a reader must not: read or write server files, run
# server programs, signal other sessions.
_PG_POWERFUL_ROLES = (
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
    "pg_signal_backend",
)
_PG_ROLE_CHECK = (
    "SELECT current_user, current_setting('is_superuser') = 'on', "
    "ARRAY(SELECT rolname::text FROM pg_roles WHERE rolname = ANY(%s) AND pg_has_role(current_user, oid, 'MEMBER'))"
)


def _leading_word(query: str) -> str | None:
    """The first word of a query past blanks, comments and opening parentheses (upper case); None if none."""
    at = 0
    while at < len(query):
        if query[at].isspace() or query[at] == "(":
            at += 1
        elif query.startswith("--", at):
            end = query.find("\n", at)
            at = len(query) if end < 0 else end + 1
        elif query.startswith("/*", at):
            depth, at = 1, at + 2  # PostgreSQL's block comments nest
            while depth and at < len(query):
                if query.startswith("/*", at):
                    depth, at = depth + 1, at + 2
                elif query.startswith("*/", at):
                    depth, at = depth - 1, at + 2
                else:
                    at += 1
        else:
            word = _WORD.match(query, at)
            return word.group(0).upper() if word else query[at]
    return None


_DOLLAR_TAG = re.compile(r"\$(?:[A-Za-z_][A-Za-z0-9_]*)?\$")


def _without_final_semicolon(query: str) -> str:
    """The query without a ';' that ends it (past comments), so that it can stand inside parentheses.

    Only the query's end matters, so this follows just enough of PostgreSQL's lexing to know what is code:
    quoted strings and identifiers, dollar quoting, and nested comments. The query was declared as it is
    before this is called, so it is known to be one valid statement.
    """
    at, last_code = 0, -1
    while at < len(query):
        char = query[at]
        if char.isspace():
            at += 1
        elif query.startswith("--", at):
            end = query.find("\n", at)
            at = len(query) if end < 0 else end + 1
        elif query.startswith("/*", at):
            depth, at = 1, at + 2
            while depth and at < len(query):
                if query.startswith("/*", at):
                    depth, at = depth + 1, at + 2
                elif query.startswith("*/", at):
                    depth, at = depth - 1, at + 2
                else:
                    at += 1
        elif char in ("'", '"'):
            escaped = char == "'" and at > 0 and query[at - 1] in "eE"
            at += 1
            while at < len(query):
                if escaped and query[at] == "\\":
                    at += 2
                elif query[at] == char:
                    if query.startswith(char * 2, at):
                        at += 2
                    else:
                        break
                else:
                    at += 1
            last_code = at
            at += 1
        elif char == "$" and (tag := _DOLLAR_TAG.match(query, at)) and not (at and query[at - 1].isalnum()):
            end = query.find(tag.group(0), tag.end())
            at = len(query) if end < 0 else end + len(tag.group(0))
            last_code = at - 1
        else:
            last_code = at
            at += 1
    if last_code >= 0 and query[last_code] == ";":
        return query[:last_code]
    return query


def _bounded(query: str, width: int, max_bytes: int) -> str:
    """The query wrapped so that the server stops sending values once its rows have used max_bytes: each row
    comes with a flag, true from the first row that would pass the limit on, and then only NULLs beside it."""
    names = [f"c{n}" for n in range(width)]
    size = " + ".join(f"coalesce(octet_length(CAST(q.{c} AS text)), 0)" for c in names)
    over = f"w.cchc_running > {max_bytes}"
    values = ", ".join(f"CASE WHEN {over} THEN NULL ELSE w.{c} END" for c in names)
    return (
        f"SELECT {values}, {over} FROM (SELECT q.*, sum(s.cchc_bytes) OVER (ROWS BETWEEN UNBOUNDED PRECEDING AND "
        f"CURRENT ROW) AS cchc_running FROM (\n{_without_final_semicolon(query)}\n) AS q({', '.join(names)}) "
        f"CROSS JOIN LATERAL (SELECT {size} AS cchc_bytes) AS s) AS w"
    )


class _Flagged:
    """The rows of a _bounded() query without their flag, up to the first one the server withheld."""

    def __init__(self, rows: Iterable[tuple[Any, ...]]) -> None:
        self.rows = rows
        self.withheld = False

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        for row in self.rows:
            if row[-1]:
                self.withheld = True
                return
            yield row[:-1]


class _PostgresBackend(_Backend):
    SHAPE, CURSOR = "cchc_sql_shape", "cchc_sql"

    def __init__(self, database_url: str, timeout_s: float, *, allow_superuser: bool = False) -> None:
        self.timeout_s = timeout_s
        self.timeout_ms = max(1, round(timeout_s * 1000))
        self.allow_superuser = allow_superuser
        # No pool: a connection per query, so whatever a query leaves in its session ends with it.
        self.engine: Engine = sa.create_engine(
            database_url, poolclass=NullPool, connect_args={"connect_timeout": max(2, math.ceil(timeout_s))}
        )

    def run(self, query: str, max_rows: int, max_bytes: int) -> tuple[list[str], Rows, bool]:
        # DECLARE … CURSOR FOR below accepts only a query anyway; looking at the first word first gives the
        # analyst the statement's name instead of a syntax error.
        word = _leading_word(query)
        if word is None:
            raise SqlFailed("Truy vấn trống: the query holds only comments")
        if word not in _PG_QUERY_WORDS:
            raise SqlRefused(word)
        try:
            connection = self.engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            words = str(getattr(exc, "orig", None) or exc).splitlines()[0]
            raise SqlError(f"Không kết nối được cơ sở dữ liệu: {words}") from exc
        with connection:
            try:
                connection.exec_driver_sql("SET TRANSACTION READ ONLY")
                connection.exec_driver_sql(f"SET LOCAL statement_timeout = {self.timeout_ms}")
                driver = cast("psycopg.Connection[tuple[Any, ...]]", connection.connection.driver_connection)
                self._check_role(driver)
                with driver.cursor(name=self.SHAPE) as shape:
                    shape.execute(query)  # declared, not run: its columns
                    columns = [column.name for column in shape.description or ()]
                with driver.cursor(name=self.CURSOR) as cursor:
                    if not columns:  # nothing to count (SELECT FROM run): rows of no values
                        cursor.execute(query)
                        rows, truncated = collect(cursor, max_rows, max_bytes)
                    else:
                        cursor.execute(_bounded(query, len(columns), max_bytes))
                        flagged = _Flagged(cursor)
                        rows, truncated = collect(flagged, max_rows, max_bytes)
                        truncated = truncated or flagged.withheld
                return columns, rows, truncated
            except psycopg.Error as exc:
                if exc.sqlstate is None:  # the client's own trouble: the session is in no state to reuse
                    connection.invalidate()
                raise self._error(exc) from exc
            finally:
                if not connection.invalidated:
                    connection.rollback()

    def _check_role(self, driver: psycopg.Connection[tuple[Any, ...]]) -> None:
        if self.allow_superuser:
            return
        row = driver.execute(_PG_ROLE_CHECK, [list(_PG_POWERFUL_ROLES)]).fetchone()
        assert row is not None
        role, superuser, memberships = row
        powers = (["superuser"] if superuser else []) + [f"member of {m}" for m in memberships]
        if powers:
            raise SqlUnsafeRole(str(role), powers)

    def _error(self, exc: psycopg.Error) -> SqlError:
        message = exc.diag.message_primary or str(exc).splitlines()[0]
        state = exc.sqlstate or ""
        if state == "57014" and "statement timeout" in message:  # query_canceled
            return SqlTimeout(self.timeout_s)
        if "multiple commands" in message:
            return SqlRefused.multiple_statements()
        if state in _PG_REFUSED_STATES or (state == "0A000" and "data-modifying" in message):
            return SqlRefused.by_database(message)
        hint = exc.diag.message_hint
        return SqlFailed(message + (f" ({hint})" if hint else ""))

    def columns(self) -> list[tuple[str, str, str]]:
        _, rows, _ = self.run(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = current_schema() ORDER BY table_name, ordinal_position",
            SCHEMA_ROWS,
            SCHEMA_BYTES,
        )
        return [(str(table), str(column), str(kind)) for table, column, kind in rows]

    def close(self) -> None:
        self.engine.dispose()
