"""A probe: one module per portal kind, with its walks (jobs) and its pure, versioned parser."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from cchc.settings import Settings, Unit
from probes._base import Parser
from probes._session import CrawlSession


class Probe(Parser, Protocol):
    """One module per probe: what to fetch (walks), and how to read it (a pure parser)."""

    def jobs(self, settings: Settings, units: Sequence[Unit]) -> list[Job]: ...


@dataclass(frozen=True)
class Job:
    """One independent walk of a probe (a portal category, a unit's procedure list, a month's reports)."""

    probe: str
    name: str
    walk: Callable[[CrawlSession], Awaitable[None]]
    units: tuple[str, ...] = ()
