"""The writer's journal: before a record is committed to the database, a signed line naming its chain, position
and hash is appended to this file and fsynced. It runs ahead of the database, so a record a killed writer left
unsigned can later be checked against what the writer itself meant to commit (evidence.vouch).

A line: {"type": "journal", "chain": "snapshot" | "event", "store": <id>, "seq": n, "hash": <record hash>,
"signature": <Ed25519 over the line without its signature>}. A killed writer may leave a line whose record was
never committed (the next writer then takes that position with another hash): lines are intentions, so a
position may have several, and the one the database holds must be among them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from evidence.appendfile import AppendOnlyFile
from evidence.ledger import journal_statement, signed_message
from evidence.signing import CollectorKey, signature_is_valid

SNAPSHOT_CHAIN, EVENT_CHAIN = "snapshot", "event"
# How far out of order lines of concurrent writers may be (PostgreSQL: a writer that lost a race for a position
# writes a line for the next one); a reader from the end stops this far below the positions it needs.
REORDER_MARGIN = 64


@dataclass
class JournalView:
    """What a journal says about positions from some point on, lines checked against the accepted keys."""

    hashes: dict[tuple[str, int], set[str]] = field(default_factory=lambda: defaultdict(set))
    highest: dict[str, int] = field(default_factory=dict)  # highest position journaled, per chain
    # Group commits: (chain, first, last) -> the hashes journaled for the batch's first position.
    batches: dict[tuple[str, int, int], set[str]] = field(default_factory=lambda: defaultdict(set))
    # (chain, seq) -> the first positions of the batches that journaled it
    batch_starts: dict[tuple[str, int], set[int]] = field(default_factory=lambda: defaultdict(set))
    unsigned: int = 0  # lines whose signature no accepted key makes valid
    unreadable: int = 0
    exists: bool = True

    def vouches(self, chain: str, seq: int, record_hash: str) -> bool:
        return record_hash in self.hashes.get((chain, seq), ())

    def ahead_in_flight(self, chain: str, head: int, head_hashes: dict[int, str]) -> bool:
        """Whether the lines above the database's head (`head`, its record hashes by position) are those of a
        batch that had not committed: one starting right after the head, or one that lost its first position to
        another writer. A batch commits whole, so one that did commit and now ends above the head was cut."""
        highest = self.highest.get(chain, 0)
        if highest <= head + 1:
            return True  # one line ahead: a single record journaled and not (yet) committed
        for first in self.batch_starts.get((chain, highest), ()):
            committed = head_hashes.get(first) in self.batches.get((chain, first, highest), ())
            if first <= head + 1 and not committed:
                return True
        return False


class WriterJournal:
    def __init__(self, path: Path, store_id: str, key: CollectorKey, *, durable: bool = True) -> None:
        self.file = AppendOnlyFile(path, durable=durable)
        self.store_id = store_id
        self.key = key

    @property
    def path(self) -> Path:
        return self.file.path

    def close(self) -> None:
        self.file.close()

    def append(self, chain: str, seq: int, record_hash: str) -> None:
        self.append_many(chain, [(seq, record_hash)])

    def append_many(self, chain: str, records: list[tuple[int, str]]) -> None:
        """Lines for consecutive records of one chain, committed together: one write, one fsync (a group
        commit). Each line names the batch, so a reader knows how far ahead of the database they may run."""
        batch = (records[0][0], records[-1][0]) if len(records) > 1 else None
        lines = []
        for seq, record_hash in records:
            statement = journal_statement(chain, self.store_id, seq, record_hash, batch)
            lines.append({**statement, "signature": self.key.sign(signed_message(statement))})
        self.file.append_many(lines)


def read_journal(
    path: Path,
    store_id: str,
    keys: Iterable[str],
    since: dict[str, int] | None = None,
    end: int | None = None,
) -> JournalView:
    """The journal's lines for this store at positions above `since` (per chain; all lines when None), read
    from the end (or from byte `end`: the journal as it was then) so that a checkpoint reads only recent ones."""
    file = AppendOnlyFile(path)
    view = JournalView(exists=path.exists())
    accepted = set(keys)
    below = dict.fromkeys((SNAPSHOT_CHAIN, EVENT_CHAIN), 0)  # lines seen under the margin, per chain
    for line in file.lines_from_end(end):
        value = line.value
        if value is None:
            view.unreadable += 1
            continue
        chain, seq, record_hash = value.get("chain"), value.get("seq"), value.get("hash")
        if value.get("store") != store_id or chain not in below:
            continue
        if not isinstance(seq, int) or not isinstance(record_hash, str):
            view.unreadable += 1
            continue
        if since is not None and seq <= since.get(chain, 0):
            if seq < since.get(chain, 0) - REORDER_MARGIN:
                below[chain] += 1
                if all(below.values()):
                    break
            continue
        signature = value.get("signature")
        message = signed_message(value)
        if not isinstance(signature, str) or not any(
            signature_is_valid(k, message, signature) for k in accepted
        ):
            view.unsigned += 1
            continue
        view.hashes[(chain, seq)].add(record_hash)
        view.highest[chain] = max(view.highest.get(chain, 0), seq)
        batch = value.get("batch")
        if isinstance(batch, list) and len(batch) == 2 and all(isinstance(n, int) for n in batch):
            first, last = batch
            view.batch_starts[(chain, seq)].add(first)
            if seq == first:
                view.batches[(chain, first, last)].add(record_hash)
    return view
