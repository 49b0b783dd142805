"""`cchc` in a child process of its own, forked from a server that has imported the CLI once.

A test that runs the CLI wants what a user gets: a separate process, its exit code, its stdout and its stderr.
Started cold (`python -m cli`), each such process spent about 0.8 CPU-s importing before it did anything, and the
suite starts about 190 of them: a sixth of its CPU (docs/benchmarks.md, "The CLI's tests forked warm").

multiprocessing's forkserver imports the CLI once per pytest worker. Each run is a fork of that server which first
makes what a fresh `python -m cli` would have (its argv, exactly the environment asked for, its working folder,
stdout and stderr as files, stdin empty), then runs the package `cli` as `__main__` with runpy, as `-m` does:
cli/__main__.py and cli.startup run unchanged. At the end it does what the interpreter does on exit (wait for the
threads, run the atexit functions, flush), and leaves with the same status.

What a forked run does not exercise is the interpreter's start and the imports themselves. Those still run cold
where a test needs a process of its own from the start: the daemon and its job processes (test_scheduler), the
crawls that tests interrupt with a signal, the web server and the demo (test_demo_runs), and
`test_version_stands_alone`. `start_module` forks other modules of the tests' folder the same way, in the
background: the crash tests' crawl (`_crash_worker`), killed with SIGKILL as a cold one would be.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import locale
import multiprocessing
import os
import runpy
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path

# The server imports the CLI's verbs (and this module, so a run's target unpickles without an import; and the
# crash tests' crawl, `_crash_worker`), and what the verbs import only when they run (cli/main.py keeps `cchc --version` light): the reports, the indicators, the
# web app, the simulation's config writer. Forked runs spent 40 % of their time importing these again, each run
# (py-spy over a whole run, docs/benchmarks.md). pandas brings native threads (pyarrow's jemalloc, OpenBLAS):
# both libraries prepare for fork (pthread_atfork), as any pandas program forking its workers needs.
_FORKSERVER = multiprocessing.get_context("forkserver")
_FORKSERVER.set_forkserver_preload(
    [
        "cli.main",
        "cli_process",
        "_crash_worker",
        "reports",
        "indicators",
        "cli.findings",
        "cli.simlink",
        "web.app",
        "psycopg",
    ]
)


def run_cli(
    args: Sequence[str],
    *,
    timeout: float,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    check: bool = False,
) -> subprocess.CompletedProcess[str]:
    """`python -m cli *args`, as `subprocess.run(…, capture_output=True, text=True)` would run and return it."""
    with start_module("cli", args, env=env, cwd=cwd) as child:
        status = child.wait(timeout)
        result = subprocess.CompletedProcess(child.command, status, child.stdout(), child.stderr())
    if check:
        result.check_returncode()
    return result


class Forked:
    """`python -m MODULE *args` forked from the server, running: its stdout and stderr are files read at will."""

    def __init__(self, module: str, args: Sequence[str], environment: dict[str, str], folder: str) -> None:
        self.command = [sys.executable, "-m", module, *args]
        self._outputs = tempfile.TemporaryDirectory(prefix="cchc-run-")
        self._stdout, self._stderr = Path(self._outputs.name, "stdout"), Path(self._outputs.name, "stderr")
        self._stdout.touch()
        self._stderr.touch()
        self._process = _FORKSERVER.Process(
            target=_run_as_main,
            args=(module, list(args), environment, folder, str(self._stdout), str(self._stderr)),
        )
        self._process.start()
        self.pid = self._process.pid

    @property
    def returncode(self) -> int | None:
        """As Popen's: None while it runs, the exit status, or minus the signal that ended it."""
        return self._process.exitcode

    def poll(self) -> int | None:
        return self.returncode

    def wait(self, timeout: float) -> int:
        self._process.join(timeout)
        if self.returncode is None:
            raise subprocess.TimeoutExpired(self.command, timeout, self.stdout(), self.stderr())
        return self.returncode

    def kill(self) -> None:
        self._process.kill()

    def wait_for_output(self, start: str, timeout: float) -> None:
        """Until its stdout begins with `start` (what it prints once ready); ending first is an error."""
        deadline = time.monotonic() + timeout
        while not self.stdout().startswith(start):
            assert self.returncode is None, f"{self.command} ended ({self.returncode}) first: {self.stderr()}"
            if time.monotonic() >= deadline:
                raise subprocess.TimeoutExpired(self.command, timeout, self.stdout(), self.stderr())
            time.sleep(0.01)

    def stdout(self) -> str:
        return _text(self._stdout)

    def stderr(self) -> str:
        return _text(self._stderr)

    def __enter__(self) -> Forked:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Killed (SIGKILL) if it still runs: past its timeout, the test interrupted (pytest-timeout, ^C), or a
        test done with it. No child is left behind."""
        if self.returncode is None:
            self._process.kill()
        self._process.join()
        self._process.close()
        self._outputs.cleanup()


def start_module(
    module: str,
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    ready: str = "",
) -> Forked:
    """`python -m MODULE *args` started in the background (MODULE importable from the tests' folder); returned
    once its stdout begins with `ready` (what it prints when it is ready), within two minutes."""
    environment = dict(os.environ if env is None else env)
    folder = os.fspath(cwd) if cwd is not None else str(Path.cwd())
    started = Forked(module, args, environment, folder)
    try:
        started.wait_for_output(ready, timeout=120)
    except BaseException:
        started.close()
        raise
    return started


def _text(path: Path) -> str:
    """What `text=True` reads from a pipe: the locale's encoding, universal newlines."""
    with path.open(encoding=locale.getpreferredencoding(False)) as text:
        return text.read()


def _run_as_main(
    module: str, args: list[str], environment: dict[str, str], folder: str, stdout: str, stderr: str
) -> None:
    """In the forked child: become `python -m MODULE *args` started in `folder` with `environment`, then exit."""
    os.chdir(folder)
    os.environ.clear()
    os.environ.update(environment)
    for fd, path in ((1, stdout), (2, stderr)):
        opened = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.dup2(opened, fd)
        os.close(opened)
    for name, fd in (("stdout", 1), ("stderr", 2)):
        stream = _stream(fd, getattr(sys, f"__{name}__"), environment)
        setattr(sys, name, stream)
        setattr(sys, f"__{name}__", stream)
    sys.argv = ["-m", *args]  # runpy puts the module's path first, as `-m` does
    status = 0
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except SystemExit as leaving:
        status = _exit_status(leaving.code)
    except BaseException:  # the interpreter prints what escapes and exits with 1
        traceback.print_exc()
        status = 1
    _exit(status)


def _stream(fd: int, before: object, environment: Mapping[str, str]) -> io.TextIOWrapper:
    """A text stream on `fd` like the one a new interpreter makes for a file: PYTHONIOENCODING, else as before."""
    assert isinstance(before, io.TextIOWrapper)
    encoding, _, errors = environment.get("PYTHONIOENCODING", "").partition(":")
    return io.TextIOWrapper(
        io.FileIO(fd, "w", closefd=False),
        encoding=encoding or before.encoding,
        errors=errors or before.errors,
        line_buffering=False,
        write_through=fd == 2,
    )


def _exit_status(code: object) -> int:
    """What the interpreter makes of `SystemExit(code)`."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code & 0xFF
    print(code, file=sys.stderr)
    return 1


def _exit(status: int) -> None:
    """The interpreter's exit: stop the thread pools and wait for the threads that are not daemons (the step
    Py_Finalize takes, private in `threading`; multiprocessing's own children take it too), run atexit, flush."""
    threading._shutdown()  # type: ignore[attr-defined]
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os._exit(status)
