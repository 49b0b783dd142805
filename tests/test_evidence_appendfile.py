"""The journal's and the witness's files: lines appended whole by several writers, read from either end, with
overlong and broken lines reported and skipped, never held whole in memory."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from evidence.appendfile import MAX_LINE_BYTES, AppendOnlyFile


def test_lines_read_from_the_end_are_the_lines_read_from_the_start_reversed(tmp_path: Path) -> None:
    file = AppendOnlyFile(tmp_path / "f.jsonl", durable=False)
    for n in range(5000):  # several read blocks
        file.append({"n": n, "text": "Cải cách hành chính " * (n % 7)})
    file.close()
    forwards = [line.value for line in file.lines()]
    backwards = [line.value for line in file.lines_from_end()]
    assert forwards == list(reversed(backwards)) and len(forwards) == 5000
    assert [line.number for line in file.lines()][-1] == 5000


def test_overlong_and_broken_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(
        b'{"n": 1}\n' + b"x" * (3 * MAX_LINE_BYTES) + b'\n{"n": 2}\nnot json\n[1, 2]\n{"n": 3}\n'
    )
    file = AppendOnlyFile(path)
    forwards = [(line.number, line.value, line.problem) for line in file.lines()]
    assert forwards == [
        (1, {"n": 1}, ""),
        (2, None, f"longer than {MAX_LINE_BYTES} bytes"),
        (3, {"n": 2}, ""),
        (4, None, "not JSON"),
        (5, None, "not a JSON object"),
        (6, {"n": 3}, ""),
    ]
    backwards = [(line.value, line.problem) for line in file.lines_from_end()]
    assert backwards == [(v, p) for _, v, p in reversed(forwards)]


def test_a_line_cut_short_by_a_power_loss_stays_apart_from_the_next(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    path.write_bytes(b'{"n": 1}\n{"n": 2, "cut sh')
    file = AppendOnlyFile(path)
    file.append({"n": 3})
    file.close()
    assert [line.value for line in file.lines()] == [{"n": 1}, None, {"n": 3}]


def test_several_processes_append_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    script = (
        "import sys\nfrom pathlib import Path\nfrom evidence.appendfile import AppendOnlyFile\n"
        "f = AppendOnlyFile(Path(sys.argv[1]), durable=False)\n"
        "for n in range(300):\n    f.append({'writer': sys.argv[2], 'n': n, 'pad': 'x' * 500})\n"
    )
    writers = [subprocess.Popen([sys.executable, "-c", script, str(path), name]) for name in "abc"]
    assert [w.wait(timeout=120) for w in writers] == [0, 0, 0]
    lines = path.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 900
    seen = [json.loads(line) for line in lines]  # every line whole
    for name in "abc":
        assert [v["n"] for v in seen if v["writer"] == name] == list(range(300))


def test_a_reader_sees_the_file_as_it_was_and_skips_a_line_being_written(tmp_path: Path) -> None:
    path = tmp_path / "f.jsonl"
    file = AppendOnlyFile(path, durable=False)
    file.append({"n": 1})
    then = file.size()
    file.append({"n": 2})
    file.close()
    with path.open("ab") as handle:
        handle.write(b'{"n": 3, "being wri')  # another writer's line, half visible
    assert [line.value for line in file.lines()] == [{"n": 1}, {"n": 2}]
    assert [line.value for line in file.lines_from_end()] == [{"n": 2}, {"n": 1}]
    assert [line.value for line in file.lines(then)] == [{"n": 1}]
    assert [line.value for line in file.lines_from_end(then)] == [{"n": 1}]
