"""A lease in the database, so that two daemons on one database never schedule the same jobs.

The holder renews it with a heartbeat; a second daemon refuses to schedule, names the holder, and takes over
once the lease has expired (its holder stopped renewing: crashed, hung or cut off).
"""

from __future__ import annotations

import os
import socket
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from evidence.operations import DaemonLease

LEASE_NAME = "scheduler"


def new_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


@dataclass(frozen=True)
class LeaseState:
    holder: str
    acquired_at: datetime
    heartbeat_at: datetime
    expires_at: datetime

    def expired(self, now: datetime) -> bool:
        return now >= self.expires_at


class Lease:
    def __init__(self, engine: Engine, holder: str, ttl_s: float, name: str = LEASE_NAME) -> None:
        self.engine = engine
        self.holder = holder
        self.ttl = timedelta(seconds=ttl_s)
        self.name = name

    def current(self) -> LeaseState | None:
        with Session(self.engine) as session:
            row = session.get(DaemonLease, self.name)
            return (
                None
                if row is None
                else LeaseState(row.holder, row.acquired_at, row.heartbeat_at, row.expires_at)
            )

    def acquire(self) -> LeaseState | None:
        """Take the lease if it is free, expired or ours; otherwise return who holds it."""
        now = datetime.now(UTC)
        with Session(self.engine) as session:
            row = session.exec(
                select(DaemonLease).where(DaemonLease.name == self.name).with_for_update()
            ).first()
            if row is None:
                session.add(DaemonLease(name=self.name, holder=self.holder, acquired_at=now, heartbeat_at=now,
                                        expires_at=now + self.ttl))  # fmt: skip
                try:
                    session.commit()
                except IntegrityError:  # another daemon inserted it first
                    session.rollback()
                    return self.current()
                return None
            if row.holder != self.holder and now < row.expires_at:
                return LeaseState(row.holder, row.acquired_at, row.heartbeat_at, row.expires_at)
            if row.holder != self.holder:
                row.acquired_at = now
            row.holder, row.heartbeat_at, row.expires_at = self.holder, now, now + self.ttl
            session.add(row)
            session.commit()
            return None

    def renew(self) -> bool:
        """Extend our lease; False when it is no longer ours (it expired and someone took it)."""
        now = datetime.now(UTC)
        with Session(self.engine) as session:
            row = session.exec(
                select(DaemonLease).where(DaemonLease.name == self.name).with_for_update()
            ).first()
            if row is None or row.holder != self.holder:
                return False
            row.heartbeat_at, row.expires_at = now, now + self.ttl
            session.add(row)
            session.commit()
            return True

    def release(self) -> None:
        with Session(self.engine) as session:
            row = session.get(DaemonLease, self.name)
            if row is not None and row.holder == self.holder:
                # A release is its last heartbeat, ending at once: `cchc status` tells a stop from a daemon
                # that stopped renewing (killed, hung), whose lease ran out its time-to-live.
                row.heartbeat_at = row.expires_at = datetime.now(UTC)
                session.add(row)
                session.commit()
