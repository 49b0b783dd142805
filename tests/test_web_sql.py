"""The analysts' SQL console: it reads, it refuses to write, it stops at its timeout, on SQLite and PostgreSQL."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

import evidence.operations  # noqa: F401  (its tables join the schema, so their descriptions are checked too)
from cchc.settings import Settings
from cli.simlink import write_pointed_config
from cli_process import run_cli
from crawler import Capture, Outcome, Target
from evidence.db import create_engine, open_database
from evidence.models import Observation, ParseFailure
from evidence.store import EvidenceStore
from sim import Simulation
from web.sql import (
    EXAMPLES,
    TABLE_DESCRIPTIONS,
    ExampleQuery,
    ReadOnlySql,
    SqlError,
    SqlFailed,
    SqlRefused,
    SqlTimeout,
    SqlUnsafeRole,
    _without_final_semicolon,
    console_url,
)
from web.sql_role import grant_read_only

EVIDENCE_TABLES = ("run", "blob", "snapshot", "snapshot_blob", "checkpoint", "observation", "parse_failure")
TIMEOUT_MARGIN_S = 20.0  # a loaded machine's slack; the queries it stops run a minute or forever


@pytest.fixture
def evidence_url(database_url: str, tmp_path: Path) -> Iterator[str]:
    """An evidence database with one finished run of three captures, an observation and a parse failure."""
    open_database(database_url).dispose()
    store = EvidenceStore.open(database_url, tmp_path / "blobs", tmp_path / "k.pem")
    try:
        run = store.begin_run("test", probes=["news", "procedures"], units=["thanhpho"])
        assert run.id is not None
        # These tests are about the SQL console, not the crawl: captures made by hand give the tables known
        # rows without a simulated portal, a fetcher or a browser.
        now = datetime.now(UTC)
        news = "https://thanhpho.tayninh.gov.vn/tin-tuc-su-kien"
        page = Capture(
            Target(url=news, probe="news", unit="thanhpho", label="category page 1"),
            Outcome.OK,
            now,
            final_url=news,
            status=200,
            reason="OK",
            http_version="HTTP/1.1",
            response_headers=(("content-type", "text/html; charset=utf-8"),),
            body="<html><h1>Cải cách hành chính</h1></html>".encode(),
        )
        broken = Capture(
            Target(url=news + "/page-2", probe="news", unit="thanhpho", label="category page 2"),
            Outcome.HTTP_ERROR,
            now,
            status=500,
            reason="Internal Server Error",
            body=b"oops",
        )
        silent = Capture(
            Target(url="https://dichvucong.tayninh.gov.vn/", probe="procedures", unit="thanhpho"),
            Outcome.TIMEOUT,
            now,
            detail="read timeout after 2 s",
        )
        snapshots = [store.store(run.id, capture) for capture in (page, broken, silent)]
        first = snapshots[0].id
        assert first is not None
        store.add_observations(
            [
                Observation(
                    snapshot_id=first,
                    probe="news",
                    unit="thanhpho",
                    metric="news_posts_per_month",
                    period="2024-05",
                    value=3.0,
                    parser="test",
                    parser_version="1",
                    derived_at=now,
                )
            ]
        )
        store.add_parse_failure(
            ParseFailure(
                snapshot_id=first,
                probe="news",
                unit="thanhpho",
                parser="test",
                parser_version="1",
                reason="no article list on the page",
                created_at=now,
            )
        )
        store.finish_run(run.id)
    finally:
        store.close()
    yield database_url


@pytest.fixture
def reader_url(evidence_url: str, settings: Settings) -> str:
    """The URL the SQL page uses by default: SQLite's own file; on PostgreSQL the evidence database as the
    SELECT-only role that `cchc db init-readonly` makes (granted here on this test's schema)."""
    stored = settings.model_copy(
        update={"storage": settings.storage.model_copy(update={"database_url": evidence_url})}
    )
    if is_postgresql(evidence_url):
        engine = create_engine(evidence_url)
        try:
            grant_read_only(engine, stored.web.sql_role)
        finally:
            engine.dispose()
    return console_url(stored, environ={})


@pytest.fixture
def console(reader_url: str) -> Iterator[ReadOnlySql]:
    with ReadOnlySql(reader_url, timeout_s=1) as sql:
        yield sql


def is_postgresql(url: str) -> bool:
    return url.startswith("postgresql")


def row_counts(url: str) -> dict[str, int]:
    """Rows per evidence table, counted through a normal (writable) engine."""
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return {
                table: int(connection.exec_driver_sql(f"SELECT COUNT(*) FROM {table}").scalar_one())
                for table in EVIDENCE_TABLES
            }
    finally:
        engine.dispose()


def sqlite_settings(url: str) -> tuple[str, int]:
    """journal_mode and user_version, read with plain sqlite3 (the evidence engine sets WAL itself)."""
    connection = sqlite3.connect(make_url(url).database or "")
    try:
        journal_mode = str(connection.execute("PRAGMA journal_mode").fetchone()[0])
        user_version = int(connection.execute("PRAGMA user_version").fetchone()[0])
        return journal_mode, user_version
    finally:
        connection.close()


# --- reading ------------------------------------------------------------------------------------------------


def test_a_select_returns_its_columns_and_rows(console: ReadOnlySql) -> None:
    result = console.run("SELECT probe, outcome, status_code FROM snapshot ORDER BY seq")

    assert result.columns == ["probe", "outcome", "status_code"]
    assert result.rows == [("news", "ok", 200), ("news", "http-error", 500), ("procedures", "timeout", None)]
    assert not result.truncated
    assert result.elapsed_ms >= 0


def test_an_empty_result_still_has_its_columns(console: ReadOnlySql) -> None:
    result = console.run("SELECT id, reason FROM parse_failure WHERE id < 0")

    assert result.columns == ["id", "reason"]
    assert result.rows == []
    assert not result.truncated


def test_a_single_trailing_semicolon_is_fine(console: ReadOnlySql) -> None:
    assert console.run("SELECT COUNT(*) AS runs FROM run;").rows == [(1,)]


def test_the_row_limit_truncates_and_says_so(reader_url: str) -> None:
    with ReadOnlySql(reader_url, row_limit=2) as sql:
        cut = sql.run("SELECT seq FROM snapshot ORDER BY seq")
    with ReadOnlySql(reader_url, row_limit=3) as sql:
        whole = sql.run("SELECT seq FROM snapshot ORDER BY seq")
    with ReadOnlySql(reader_url, row_limit=1000) as sql:
        many = sql.run(
            "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5000) SELECT x FROM n"
        )

    assert (cut.rows, cut.truncated) == ([(1,), (2,)], True)
    assert (whole.rows, whole.truncated) == ([(1,), (2,), (3,)], False)
    assert (len(many.rows), many.rows[-1], many.truncated) == (1000, (1000,), True)


def test_results_are_capped_by_bytes_and_say_so(reader_url: str) -> None:
    """`SELECT zeroblob(100000000)` once returned 500 MB and stalled the whole app for seconds."""
    rows_of_1000 = (
        "WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 5000) "
        "SELECT x, {pad} AS pad FROM n"
    )
    pad = "repeat('x', 1000)" if is_postgresql(reader_url) else "printf('%.1000c', 'x')"
    # A minute's statement timeout: the default 5 s once stopped the 100 MB value below on a loaded machine.
    with ReadOnlySql(reader_url, row_limit=1000, max_bytes=100_000, timeout_s=60) as sql:
        cut = sql.run(rows_of_1000.format(pad=pad))
        assert cut.truncated and 90 <= len(cut.rows) < 100 and cut.rows[-1][0] == len(cut.rows)
        assert sql.run("SELECT 1 AS one;").rows == [(1,)]
        if is_postgresql(reader_url):
            # 100 MB made on the server: only a flag crosses the wire, not the value (no row, the flag set).
            huge = sql.run("SELECT repeat('x', 100000000) AS huge, 1 AS n")
            assert (huge.columns, huge.rows, huge.truncated) == (["huge", "n"], [], True)
        else:
            with pytest.raises(
                SqlFailed, match=r"^Giá trị quá lớn: a value would be larger than 1000000 bytes"
            ):
                sql.run("SELECT zeroblob(100000000)")  # refused inside SQLite, before it is made


@pytest.mark.parametrize(
    ("query", "expected"),
    [("SELECT 1;", "SELECT 1"), ("SELECT 1 ;  -- done\n", "SELECT 1 "), ("SELECT ';'", "SELECT ';'"),
     ("SELECT 'it''s;'", "SELECT 'it''s;'"), ('SELECT ";" FROM t', 'SELECT ";" FROM t'),
     ("SELECT $$;$$", "SELECT $$;$$"), ("SELECT $q$ $$; $q$;", "SELECT $q$ $$; $q$"),
     ("SELECT E'\\';'", "SELECT E'\\';'"), ("SELECT 1 /* ; /* ; */ */", "SELECT 1 /* ; /* ; */ */"),
     ("SELECT 1; /* end */", "SELECT 1")],
)  # fmt: skip
def test_only_a_final_semicolon_is_taken_off_before_the_query_is_wrapped(query: str, expected: str) -> None:
    assert _without_final_semicolon(query) == expected


def test_the_console_cannot_reach_beyond_the_evidence(reader_url: str, console: ReadOnlySql) -> None:
    """PostgreSQL, by default: server files, the password table and large-object import are out of reach.
    SQLite: fts3_tokenizer (a pointer out, and a way in) and load_extension are refused while compiling."""
    if is_postgresql(reader_url):
        for query in ("SELECT pg_read_file('/etc/passwd')", "SELECT rolpassword FROM pg_authid",
                      "SELECT lo_import('/etc/passwd')", "SELECT pg_ls_dir('.')"):  # fmt: skip
            with pytest.raises(SqlRefused, match="permission denied"):
                console.run(query)
    else:
        for query, refused in (("SELECT fts3_tokenizer('simple')", "fts3_tokenizer()"),
                               ("SELECT hex(fts3_tokenizer('simple'))", "fts3_tokenizer()"),
                               ("SELECT load_extension('/tmp/x.so')", "load_extension()")):  # fmt: skip
            with pytest.raises(SqlRefused) as caught:
                console.run(query)
            assert caught.value.refused == refused
        assert console.run(
            "SELECT upper('a'), json_extract('{\"a\": 1}', '$.a'), date('2023-09-30')"
        ).rows == [("A", 1, "2023-09-30")]


def test_a_superuser_console_is_refused_unless_allowed(pg_url: str) -> None:
    """The tests' PostgreSQL login is a superuser: pointed at it, the console runs nothing."""
    with (
        ReadOnlySql(pg_url) as sql,
        pytest.raises(SqlUnsafeRole, match=r"^Trang SQL không chạy với vai trò 'postgres' \(superuser"),
    ):
        sql.run("SELECT 1")
    with ReadOnlySql(pg_url, allow_superuser=True) as sql:
        assert sql.run("SELECT 1").rows == [(1,)]


def test_init_readonly_refuses_to_demote_the_evidence_role(pg_url: str) -> None:
    engine = create_engine(pg_url)
    try:
        with pytest.raises(SqlError, match=r"web\.sql_role 'postgres' is the evidence database's own role"):
            grant_read_only(engine, "postgres")
    finally:
        engine.dispose()
    with pytest.raises(SqlError, match="for PostgreSQL"):
        grant_read_only(create_engine("sqlite://"), "cchc_sql_reader")


def test_a_malformed_query_fails_in_the_databases_words(console: ReadOnlySql) -> None:
    with pytest.raises(SqlFailed, match="nope"):
        console.run("SELECT nope FROM snapshot")
    with pytest.raises(SqlFailed, match="Truy vấn trống"):
        console.run("   \n")


def test_a_query_the_driver_cannot_carry_is_a_clear_failure_on_both_databases(console: ReadOnlySql) -> None:
    # Found by the API property test (GET /api/sql?q=%00): SQLite raised a ProgrammingError without an errorname.
    for query in ("\x00", "SELECT 1\x00", "SELECT '\x00'"):
        with pytest.raises(SqlFailed, match="NUL"):
            console.run(query)
    with pytest.raises(SqlFailed, match="UTF-8"):
        console.run("SELECT '\ud800'")  # a lone surrogate (Python API only; HTTP input is decoded UTF-8)


# --- refusing -----------------------------------------------------------------------------------------------

REFUSED_ON_BOTH = [
    "INSERT INTO run (trigger, surprise, probes, units, started_at, status, hostname, pid, counts, note) "
    "VALUES ('manual', false, '[]', '[]', '2024-01-01 00:00:00', 'running', 'x', 1, '{}', '')",
    "UPDATE observation SET value = 0",
    "DELETE FROM parse_failure",
    "DROP TABLE observation",
    "CREATE TABLE notes (line TEXT)",
    "SELECT COUNT(*) FROM run; SELECT COUNT(*) FROM snapshot",
    "SELECT 1; DELETE FROM observation",
]
REFUSED_ON_SQLITE = [
    "ATTACH DATABASE '{tmp}/other.sqlite3' AS other",
    "VACUUM INTO '{tmp}/copy.sqlite3'",
    "PRAGMA journal_mode=DELETE",
    "PRAGMA user_version=5",
    "PRAGMA query_only = OFF",
    "UPDATE sqlite_master SET sql = ''",
    "BEGIN IMMEDIATE",
    "CREATE TEMP TABLE notes (line TEXT)",
]
REFUSED_ON_POSTGRESQL = [
    "CREATE TEMP TABLE notes (line text)",
    "COPY (SELECT 1) TO PROGRAM 'true'",
    "SET statement_timeout = 0",
    "SELECT nextval('run_id_seq')",
    "SELECT set_config('transaction_read_only', 'off', true)",
    "WITH gone AS (DELETE FROM observation RETURNING id) SELECT COUNT(*) FROM gone",
]


@pytest.mark.parametrize("query", REFUSED_ON_BOTH)
def test_a_write_or_a_second_statement_is_refused_and_nothing_changes(
    evidence_url: str, console: ReadOnlySql, query: str
) -> None:
    before = row_counts(evidence_url)

    with pytest.raises(SqlRefused) as refused:
        console.run(query)

    assert str(refused.value).startswith(
        ("Chỉ được phép truy vấn đọc (SELECT): ", "Mỗi lần chỉ chạy một câu lệnh")
    )
    assert row_counts(evidence_url) == before


def test_what_only_one_backend_could_write_is_refused_too(
    evidence_url: str, console: ReadOnlySql, tmp_path: Path
) -> None:
    before = row_counts(evidence_url)
    queries = REFUSED_ON_POSTGRESQL if is_postgresql(evidence_url) else REFUSED_ON_SQLITE

    for query in queries:
        with pytest.raises(SqlRefused):
            console.run(query.format(tmp=tmp_path))

    assert row_counts(evidence_url) == before
    if not is_postgresql(evidence_url):
        assert sqlite_settings(evidence_url) == ("wal", 0)
        assert not (tmp_path / "other.sqlite3").exists()
        assert not (tmp_path / "copy.sqlite3").exists()


def test_a_refusal_names_what_was_refused(evidence_url: str, console: ReadOnlySql) -> None:
    if is_postgresql(evidence_url):
        query, refused = "CREATE TEMP TABLE notes (line text)", "CREATE"
    else:
        query, refused = "ATTACH DATABASE 'other.sqlite3' AS other", "ATTACH"

    with pytest.raises(SqlRefused) as caught:
        console.run(query)

    assert caught.value.refused == refused
    assert str(caught.value) == f"Chỉ được phép truy vấn đọc (SELECT): {refused} is refused"


# --- stopping -----------------------------------------------------------------------------------------------


def test_a_long_query_is_stopped_at_its_timeout(evidence_url: str, console: ReadOnlySql) -> None:
    if is_postgresql(evidence_url):
        long_query = "SELECT pg_sleep(60)"
    else:
        long_query = (
            "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < 1000000000000) "
            "SELECT COUNT(*) FROM c"
        )

    started = time.monotonic()
    with pytest.raises(SqlTimeout) as stopped:
        console.run(long_query)
    elapsed = time.monotonic() - started

    assert str(stopped.value) == "Truy vấn bị dừng sau 1 s (statement timeout)"
    assert 0.9 <= elapsed < 1 + TIMEOUT_MARGIN_S
    assert console.run("SELECT COUNT(*) FROM snapshot").rows == [(3,)]  # the console still answers


# --- what the SQL page shows --------------------------------------------------------------------------------


def test_the_schema_lists_the_evidence_tables_with_descriptions(console: ReadOnlySql) -> None:
    tables = {table.name: table for table in console.schema()}

    assert set(EVIDENCE_TABLES) <= set(tables)
    assert all(tables[name].description for name in EVIDENCE_TABLES)
    assert {"seq", "prev_hash", "record_hash"} <= {name for name, _ in tables["snapshot"].columns}
    assert [name for name, _ in tables["blob"].columns] == ["sha256", "size", "stored_size", "created_at"]


def test_every_table_in_the_schema_has_a_description(console: ReadOnlySql) -> None:
    undescribed = [table.name for table in console.schema() if not table.description]

    assert undescribed == [], (
        f"add a short Vietnamese description to web.sql.TABLE_DESCRIPTIONS: {undescribed}"
    )
    assert {"daemon_lease", "job_run", "missed_run"} <= set(TABLE_DESCRIPTIONS)


@pytest.mark.parametrize("example", EXAMPLES, ids=[example.title for example in EXAMPLES])
def test_every_example_query_runs(console: ReadOnlySql, example: ExampleQuery) -> None:
    result = console.run(example.sql)

    assert result.columns
    assert result.rows, f"{example.title!r} found nothing in a database that has an answer for it"


def test_init_readonly_from_the_command_line(
    database_url: str, settings: Settings, simulation: Simulation, tmp_path: Path
) -> None:
    """`cchc db init-readonly`: on PostgreSQL the SQL page's role, which the console then uses by default;
    on SQLite one line saying it is not needed."""
    stored = settings.model_copy(update={
        "storage": settings.storage.model_copy(update={"database_url": database_url, "blob_dir": tmp_path / "b"}),
        "collector": settings.collector.model_copy(update={"key_file": tmp_path / "k.pem"})})  # fmt: skip
    config = tmp_path / "config.toml"
    write_pointed_config(stored, simulation.urls, config)
    open_database(database_url).dispose()
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("CCHC_CONFIG", "CCHC_DATABASE_URL", "CCHC_SQL_PASSWORD")
    }
    made = run_cli(["--config", str(config), "db", "init-readonly"], timeout=120, env=env, check=False)
    if not is_postgresql(database_url):
        assert made.returncode == 1 and made.stderr.strip().splitlines() == [
            "cchc db init-readonly is for PostgreSQL: on SQLite the SQL page opens the file read-only"
        ]
        return
    assert made.returncode == 0, made.stderr
    assert "role cchc_sql_reader may read schema t_" in made.stdout
    with ReadOnlySql(console_url(stored, environ={})) as sql:
        assert sql.run("SELECT COUNT(*) FROM run").rows == [(0,)]
        with pytest.raises(SqlRefused, match="permission denied"):
            sql.run("SELECT pg_read_file('/etc/hostname')")
