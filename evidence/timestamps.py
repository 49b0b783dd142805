"""Trusted timestamps (RFC 3161): an independent authority's signed statement that some bytes existed by a time.

Our own clock proves nothing to a unit that disputes a capture. Each signed checkpoint's signature is sent, as
a SHA-256 imprint, to every configured authority; the token (the whole DER TimeStampResp) is kept beside the
checkpoint. An authority that is down only delays its token: the request is retried later (after a crawl, by
the daemon, by `cchc evidence timestamp`) and `cchc status` shows it as pending. A crawl never waits for one.

Every token is checked when it arrives and whenever it is read, against the authority's certificates pinned in
the configuration, never against certificates the token brings.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import httpx
from cryptography import x509
from rfc3161_client import (
    HashAlgorithm,
    PKIStatus,
    TimestampRequestBuilder,
    TimeStampResponse,
    VerificationError,
    VerifierBuilder,
    decode_timestamp_response,
)
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, func, select

from evidence.errors import EvidenceError
from evidence.models import Checkpoint, TimestampAttempt, TimestampToken

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_REPLY_BYTES = 256 * 1024  # a token is a few KB; anything larger is not one
USER_AGENT = "cchc-watch (RFC 3161 client)"


class TimestampError(EvidenceError):
    """An authority gave no usable token: unreachable, refused, or a reply that does not verify."""


@dataclass(frozen=True)
class Authority:
    """A time-stamping authority and the PEM certificates (root, intermediates) its tokens must chain to."""

    name: str
    url: str
    certificates_pem: bytes
    timeout_s: float = 10.0

    def roots_and_intermediates(self) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
        return split_chain(self.certificates_pem)


def split_chain(pem: bytes) -> tuple[list[x509.Certificate], list[x509.Certificate]]:
    """Self-signed certificates are roots; the others are intermediates."""
    try:
        certificates = x509.load_pem_x509_certificates(pem)
    except ValueError as exc:
        raise TimestampError(f"the pinned certificates are not PEM certificates: {exc}") from None
    roots = [c for c in certificates if c.issuer == c.subject]
    if not roots:
        raise TimestampError("the pinned certificates hold no root (self-signed) certificate")
    return roots, [c for c in certificates if c.issuer != c.subject]


def stamped_message(checkpoint: Checkpoint) -> bytes:
    """What a checkpoint's token covers: its signature, which covers its seq, head hash, time, run and reason."""
    return checkpoint.signature.encode("ascii")


def request_timestamp(
    authority: Authority, message: bytes, client: httpx.Client | None = None
) -> TimeStampResponse:
    """Ask one authority for a token over `message`, and check it (nonce, imprint, chain) before keeping it."""
    request = TimestampRequestBuilder().data(message).hash_algorithm(HashAlgorithm.SHA256).build()
    own = client is None
    http = client or httpx.Client(headers={"User-Agent": USER_AGENT})
    try:
        with http.stream(
            "POST",
            authority.url,
            content=request.as_bytes(),
            headers={"Content-Type": QUERY_TYPE, "Accept": REPLY_TYPE},
            timeout=authority.timeout_s,
        ) as response:
            if response.status_code != 200:
                raise TimestampError(f"{authority.name}: answered HTTP {response.status_code}")
            body = b""
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_REPLY_BYTES:
                    raise TimestampError(f"{authority.name}: a reply larger than {MAX_REPLY_BYTES} bytes")
    except httpx.HTTPError as exc:
        raise TimestampError(f"{authority.name}: {type(exc).__name__}: {exc}".rstrip(": ")) from None
    finally:
        if own:
            http.close()
    reply = _decode(authority.name, body)
    roots, intermediates = authority.roots_and_intermediates()
    builder = VerifierBuilder.from_request(request)
    _verify(authority.name, builder, roots, intermediates, reply, message)
    return reply


def verify_timestamp(
    reply_der: bytes, message: bytes, certificates_pem: bytes, who: str = "token"
) -> datetime:
    """The time a stored token attests for `message`, once it checks against the pinned certificates."""
    reply = _decode(who, reply_der)
    roots, intermediates = split_chain(certificates_pem)
    _verify(who, VerifierBuilder(), roots, intermediates, reply, message)
    return _gen_time(reply)


def _decode(who: str, body: bytes) -> TimeStampResponse:
    try:
        reply = decode_timestamp_response(body)
    except (ValueError, TypeError) as exc:
        raise TimestampError(f"{who}: not an RFC 3161 reply: {exc}") from None
    if reply.status not in (PKIStatus.GRANTED, PKIStatus.GRANTED_WITH_MODS):
        raise TimestampError(f"{who}: the authority refused (status {reply.status})")
    return reply


def _verify(
    who: str,
    builder: VerifierBuilder,
    roots: list[x509.Certificate],
    intermediates: list[x509.Certificate],
    reply: TimeStampResponse,
    message: bytes,
) -> None:
    for root in roots:
        builder = builder.add_root_certificate(root)
    for intermediate in intermediates:
        builder = builder.add_intermediate_certificate(intermediate)
    try:
        builder.build().verify_message(reply, message)
    except VerificationError as exc:
        text = str(exc)
        if "unable to get local issuer certificate" in text or "certificate verify error" in text:
            text = "its signer does not chain to the pinned certificates (an authority you do not trust)"
        raise TimestampError(f"{who}: the token does not verify: {text}") from None


def _gen_time(reply: TimeStampResponse) -> datetime:
    moment = reply.tst_info.gen_time
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


# --- checkpoints ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pending:
    checkpoint_id: int
    checkpoint_created_at: datetime
    authority: str
    attempts: int
    last_error: str


@dataclass
class StampReport:
    obtained: int = 0
    failed: list[str] = field(default_factory=list)  # one line per (checkpoint, authority) that got no token


def stamp_checkpoints(engine: Engine, authorities: Sequence[Authority], *, limit: int = 200) -> StampReport:
    """Ask for every token still missing (oldest checkpoints first, at most `limit` requests)."""
    report = StampReport()
    down: dict[str, str] = {}  # an authority that failed is not asked again in this pass
    with httpx.Client(headers={"User-Agent": USER_AGENT}) as client:
        for item in pending_timestamps(engine, [a.name for a in authorities])[:limit]:
            authority = next(a for a in authorities if a.name == item.authority)
            if authority.name in down:
                report.failed.append(f"checkpoint {item.checkpoint_id}: {down[authority.name]}")
                continue
            with Session(engine) as session:
                checkpoint = session.get(Checkpoint, item.checkpoint_id)
                assert checkpoint is not None
                message = stamped_message(checkpoint)
            now = datetime.now(UTC)
            try:
                reply = request_timestamp(authority, message, client)
            except TimestampError as exc:
                down[authority.name] = str(exc)
                report.failed.append(f"checkpoint {item.checkpoint_id}: {exc}")
                with Session(engine) as session:
                    session.add(TimestampAttempt(checkpoint_id=item.checkpoint_id, authority=authority.name,
                                                 attempted_at=now, error=str(exc)[:500]))  # fmt: skip
                    session.commit()
                continue
            with Session(engine) as session:
                session.add(
                    TimestampToken(
                        checkpoint_id=item.checkpoint_id,
                        authority=authority.name,
                        message_sha256=hashlib.sha256(message).hexdigest(),
                        reply=reply.as_bytes(),
                        gen_time=_gen_time(reply),
                        obtained_at=datetime.now(UTC),
                    )
                )
                session.commit()
            report.obtained += 1
    return report


def pending_timestamps(engine: Engine, authorities: Sequence[str]) -> list[Pending]:
    """Every (checkpoint, authority name) without a token yet, oldest first, with its failed attempts."""
    if not authorities:
        return []
    with Session(engine) as session:
        have = {
            (c, a) for c, a in session.exec(select(TimestampToken.checkpoint_id, TimestampToken.authority))
        }
        tried: dict[tuple[int, str], tuple[int, str]] = {}
        rows = session.exec(
            select(
                TimestampAttempt.checkpoint_id,
                TimestampAttempt.authority,
                func.count(),
                func.max(TimestampAttempt.id),
            ).group_by(col(TimestampAttempt.checkpoint_id), col(TimestampAttempt.authority))
        ).all()
        last_ids = {row[3] for row in rows}
        errors = (
            {
                a.id: a.error
                for a in session.exec(select(TimestampAttempt).where(col(TimestampAttempt.id).in_(last_ids)))
            }
            if last_ids
            else {}
        )
        for checkpoint_id, name, count, last_id in rows:
            tried[(checkpoint_id, name)] = (count, errors.get(last_id, ""))
        checkpoints = session.exec(select(Checkpoint).order_by(col(Checkpoint.id))).all()
        pending = []
        for checkpoint in checkpoints:
            assert checkpoint.id is not None
            for authority in authorities:
                if (checkpoint.id, authority) in have:
                    continue
                attempts, error = tried.get((checkpoint.id, authority), (0, ""))
                pending.append(Pending(checkpoint.id, checkpoint.created_at, authority, attempts, error))
    return pending


def tokens_of(engine: Engine, checkpoint_ids: Sequence[int]) -> list[TimestampToken]:
    if not checkpoint_ids:
        return []
    with Session(engine) as session:
        return list(
            session.exec(
                select(TimestampToken)
                .where(col(TimestampToken.checkpoint_id).in_(list(checkpoint_ids)))
                .order_by(col(TimestampToken.id))
            ).all()
        )
