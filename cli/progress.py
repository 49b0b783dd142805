"""Progress of long work (summaries, PDFs, reparse, export, verify, the demo's crawl): a Rich bar in a terminal;
piped or redirected (`make demo > log`), one line per step on stderr, so a log shows the work moving and
stdout keeps only the results."""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from cli.console import err


class Steps:
    def __init__(
        self, description: str, total: int | None = None, console: Console = err, every_s: float = 0.0
    ) -> None:
        self.description = description
        self.total = total
        self.console = console
        self.every_s = every_s  # piped: at most one line this often (the last step is always said)
        self.done = 0
        self._bar: Progress | None = None
        self._task: TaskID | None = None
        self._started = time.monotonic()
        self._said = 0.0

    def __enter__(self) -> Steps:
        if self.console.is_terminal:
            self._bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 TextColumn("{task.fields[step]}"), TimeElapsedColumn(), console=self.console,
                                 transient=False)  # fmt: skip
            self._bar.start()
            self._task = self._bar.add_task(self.description, total=self.total, step="")
        return self

    def set_total(self, total: int) -> None:
        self.total = total
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, total=total)

    def advance(self, step: str = "", count: int = 1) -> None:
        self.done += count
        if self._bar is not None and self._task is not None:
            self._bar.update(self._task, advance=count, step=step)
            return
        now = time.monotonic()
        last = self.total is not None and self.done >= self.total
        if now - self._said >= self.every_s or last:
            self._said = now
            of = f"/{self.total}" if self.total is not None else ""
            self.console.print(
                f"{self.description}: {self.done}{of}" + (f" {step}" if step else ""), markup=False
            )

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._bar is not None:
            self._bar.stop()
        elif kind is None:
            elapsed = time.monotonic() - self._started
            of = f"/{self.total}" if self.total is not None else ""
            self.console.print(
                f"{self.description}: finished {self.done}{of} in {elapsed:.0f} s", markup=False
            )
