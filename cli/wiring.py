"""Rooms built from the settings: the crawler's fetch policy and the evidence store.

The crawler and the evidence store know nothing of settings; this is where the two meet.
"""

from __future__ import annotations

import ipaddress
import logging
from urllib.parse import urlsplit

from cchc.errors import ConfigError
from cchc.settings import Settings
from crawler import FetchPolicy, host_key
from evidence import EvidenceStore
from evidence.timestamps import Authority


def fetch_policy(settings: Settings) -> FetchPolicy:
    p = settings.politeness
    return FetchPolicy(
        user_agent=settings.collector.user_agent,
        robots_agent=settings.collector.name,
        allowed_hosts=frozenset(host_key(url) for url in settings.base_urls()),
        min_delay_s=p.min_delay_s,
        latency_factor=p.latency_factor,
        max_retries=p.max_retries,
        backoff_base_s=p.backoff_base_s,
        backoff_max_s=p.backoff_max_s,
        retry_after_max_s=p.retry_after_max_s,
        connect_timeout_s=p.connect_timeout_s,
        read_timeout_s=p.read_timeout_s,
        total_timeout_s=p.total_timeout_s,
        max_body_bytes=p.max_body_bytes,
        obey_robots=p.obey_robots,
    )


def check_contact(settings: Settings) -> None:
    """Refuse to crawl real portals under the placeholder contact: site operators must be able to reach us."""
    if not settings.collector.contact.rstrip(">").endswith(".invalid"):
        return
    remote = sorted({host_key(u) for u in settings.base_urls() if not is_loopback_url(u)})
    if remote:
        raise ConfigError(
            settings.source_file or "config",
            [f"collector.contact: {settings.collector.contact!r} is a placeholder; set a real address before "
             f"crawling {remote[0]} and {len(remote) - 1} other real hosts"],
        )  # fmt: skip


def is_loopback_url(url: str) -> bool:
    """A URL on this machine (127.0.0.0/8, ::1, localhost): the simulation, never a real site's operator."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


log = logging.getLogger("cchc.evidence")


def open_store(settings: Settings) -> EvidenceStore:
    """The evidence store to write to, with its key, journal and witness; a key kept with the evidence is
    still used, with a warning that says how to move it."""
    for warning in settings.trust_warnings():
        log.warning(warning)
    return EvidenceStore.open(
        settings.storage.database_url,
        settings.storage.blob_dir,
        settings.collector.key_file,
        journal_file=settings.storage.journal,
        witness_file=settings.collector.witness_file,
    )


def timestamp_authorities(settings: Settings) -> list[Authority]:
    """The configured time-stamping authorities, each with its pinned certificates read from their file."""
    found = []
    for i, authority in enumerate(settings.timestamp.authority):
        try:
            pem = authority.certificates.read_bytes()
        except OSError as exc:
            raise ConfigError(
                settings.source_file or "config",
                [
                    f"timestamp.authority[{i}].certificates: cannot read {authority.certificates}: {exc.strerror}"
                ],
            ) from None
        found.append(Authority(authority.name, authority.url, pem, authority.timeout_s))
    return found
