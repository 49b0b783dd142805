"""A stored snapshot's server time: as measured (revision 0012 on), or bounded from the stored timings.

Snapshots kept before the server's time was measured have only `elapsed_ms`, which includes the wait for the
host's turn. One request is in flight per host, so this one was not sent before every other request to its
host that ended inside its visit had ended: its server time is at most the time from the last of those ends
to its own end. Evidence is not rewritten; the bound is computed when the snapshot is read.
"""

from __future__ import annotations

from datetime import timedelta

from sqlmodel import Session, col, select

from crawler import host_key
from evidence.models import Snapshot

MEASURED = "measured"


def server_time(session: Session, snapshot: Snapshot) -> tuple[int, str]:
    """The snapshot's server time in ms and its basis: "measured", or an upper bound with how it was found."""
    if snapshot.response_ms is not None:
        return snapshot.response_ms, MEASURED
    start = snapshot.fetched_at
    end = start + timedelta(milliseconds=snapshot.elapsed_ms)
    host = host_key(snapshot.url)
    others = session.exec(
        select(Snapshot.url, Snapshot.fetched_at, Snapshot.elapsed_ms).where(
            Snapshot.run_id == snapshot.run_id,
            col(Snapshot.id) != snapshot.id,
            col(Snapshot.fetched_at) <= end,
        )
    ).all()
    ends = [
        at + timedelta(milliseconds=elapsed)
        for url, at, elapsed in others
        if host_key(url) == host and start < at + timedelta(milliseconds=elapsed) <= end
    ]
    if not ends:
        return snapshot.elapsed_ms, (
            "at most: the whole visit (kept before the server's time was measured; no other request to "
            f"{host} ended during it)"
        )
    sent_after = max(ends)
    bound = round((end - sent_after).total_seconds() * 1000)
    return bound, (
        f"at most: re-derived from stored timings (kept before the server's time was measured; it waited for "
        f"{len(ends)} request(s) to {host} that ended during its visit of {snapshot.elapsed_ms} ms)"
    )
