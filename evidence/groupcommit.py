"""Group commit: captures handed in from the event loop are kept by one writer thread, in batches.

Keeping a capture durably costs fsyncs (its blobs, the journal, the database's commit). Done on the event loop,
one capture at a time, they stop every fetch while they wait for the disk. Here the loop hands each capture to
a writer thread and awaits it; the thread takes whatever has queued up meanwhile and keeps it as one batch
(evidence.store: each blob written and fsynced as before, then one journal write with one fsync, then one
transaction). A caller's await returns only when its capture is durable, exactly as a direct call would, so
nothing a crawl relies on is weaker; captures that arrive together simply share the waits.

A caller cancelled while it waits (SIGTERM) does not cancel its capture: the batch is kept whole, and
`drain()` (which closing a run calls) waits for every capture handed in.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

# Captures per transaction: bounds a batch's memory, how long its first caller waits, and how many records a cut
# of exactly the last batch removes unseen by the journal (a crash leaves such a batch uncommitted too).
MAX_BATCH = 64


class _Stop:
    pass


_STOP = _Stop()


class GroupCommitter(Generic[Item, Result]):
    def __init__(self, keep_many: Callable[[list[Item]], list[Result | BaseException]], name: str) -> None:
        self._keep_many = keep_many
        self._queue: queue.SimpleQueue[
            tuple[Item, asyncio.AbstractEventLoop, asyncio.Future[Result]] | _Stop
        ] = queue.SimpleQueue()
        self._handed_in = 0
        self._done = 0
        self._settled = threading.Condition()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    async def submit(self, item: Item) -> Result:
        """Hand one item to the writer; returns its result once its batch is kept (or raises its error)."""
        if not self._thread.is_alive():
            raise RuntimeError("the evidence writer has stopped")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        with self._settled:
            self._handed_in += 1
        self._queue.put((item, loop, future))
        return await future

    def drain(self) -> None:
        """Wait until every item handed in so far is kept (or has failed)."""
        with self._settled:
            self._settled.wait_for(lambda: self._done >= self._handed_in or not self._thread.is_alive())

    def stop(self) -> None:
        self.drain()
        self._queue.put(_STOP)
        self._thread.join()

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if isinstance(first, _Stop):
                return
            batch = [first]
            stopping = False
            while len(batch) < MAX_BATCH:
                try:
                    more = self._queue.get_nowait()
                except queue.Empty:
                    break
                if isinstance(more, _Stop):
                    stopping = True
                    break
                batch.append(more)
            try:
                results: list[Result | BaseException] = self._keep_many([item for item, _, _ in batch])
            except (
                BaseException
            ) as exc:  # the whole batch failed (the database is gone): each caller hears it
                results = [exc] * len(batch)
            for (_, loop, future), result in zip(batch, results, strict=True):
                _settle(loop, future, result)
            with self._settled:
                self._done += len(batch)
                self._settled.notify_all()
            if stopping:
                return


def _settle(loop: asyncio.AbstractEventLoop, future: asyncio.Future[Result], result: object) -> None:
    def settle() -> None:
        if future.done():  # its caller was cancelled; the item was kept all the same
            return
        if isinstance(result, BaseException):
            future.set_exception(result)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    with contextlib.suppress(RuntimeError):  # the loop has closed: nobody is waiting any more
        loop.call_soon_threadsafe(settle)
