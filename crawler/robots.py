"""robots.txt through a real parser (Protego), cached per host, read the way RFC 9309 says:
a 4xx means no rules; a 5xx or an unreachable host means "assume complete disallow".

Its body is decoded like any other (crawler.content: a gzip'd robots.txt is obeyed, a bomb is not inflated);
one that cannot be decoded also means "assume complete disallow", and only its first PARSE_LIMIT bytes are
parsed (RFC 9309 §2.5 asks for at least 500 KiB).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass

from protego import Protego

from crawler.content import DEFAULT_MAX_BYTES, ContentError, decode_content

FOUND_TTL_S = 3600.0
UNREACHABLE_TTL_S = 60.0
PARSE_LIMIT = 512 * 1024
# The characters a rule's literal prefix keeps: none of them is ever escaped or unescaped by Protego's
# normalisation, so a URL free of "%" whose path starts with the prefix matches it as written.
_LITERAL = re.compile(r"[A-Za-z0-9/_.-]*")


@dataclass(frozen=True)
class RobotsRules:
    """What robots.txt says for one host, and why (for the record of a refused fetch)."""

    parser: Protego | None  # None: no rules (a 4xx robots.txt)
    status: int | None
    disallow_all_reason: str = ""  # set when robots.txt was unreachable or answered 5xx
    fetched_at: float = 0.0

    def allows(self, url: str, user_agent: str) -> bool:
        if self.disallow_all_reason:
            return False
        return True if self.parser is None else bool(self.parser.can_fetch(url, user_agent))

    def disallow_prefixes(self) -> tuple[str, ...] | None:
        """Every path a Disallow rule of any group could match starts with one of these (a rule's literal
        start, cut at its first wildcard or escape): a path that starts with none of them, and has no "%" in
        it, is allowed. None when that cannot be told (everything disallowed, or rules unlike Protego's)."""
        if self.disallow_all_reason:
            return None
        if self.parser is None:
            return ()
        try:  # Protego keeps its rules privately: anything unexpected means "ask for every URL"
            patterns = [
                rule.value._pattern
                for rule_set in self.parser._user_agents.values()
                for rule in rule_set._rules
                if rule.field == "disallow"
            ]
        except AttributeError:
            return None
        prefixes = {_LITERAL.match(str(pattern)).group() for pattern in patterns}  # type: ignore[union-attr]
        if any(not prefix.startswith("/") for prefix in prefixes):
            return None
        return tuple(sorted(prefixes))

    def crawl_delay(self, user_agent: str) -> float:
        if self.parser is None:
            return 0.0
        delay = self.parser.crawl_delay(user_agent)
        return float(delay) if delay else 0.0

    def fresh(self) -> bool:
        ttl = UNREACHABLE_TTL_S if self.disallow_all_reason else FOUND_TTL_S
        return time.monotonic() - self.fetched_at < ttl


def rules_from_response(
    status: int, body: bytes, *, content_encoding: str | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> RobotsRules:
    now = time.monotonic()
    if 200 <= status < 300:
        try:
            text = decode_content(body, content_encoding, max_bytes=max_bytes)
        except ContentError as exc:
            reason = f"robots.txt could not be read ({exc}): assume complete disallow"
            return RobotsRules(None, status, reason, now)
        if len(text) > PARSE_LIMIT:
            text = text[: text.rfind(b"\n", 0, PARSE_LIMIT) + 1 or PARSE_LIMIT]
        return RobotsRules(Protego.parse(text.decode("utf-8", "replace")), status, fetched_at=now)
    if 400 <= status < 500:
        return RobotsRules(None, status, fetched_at=now)
    return RobotsRules(
        None, status, f"robots.txt answered {status}: RFC 9309 says assume complete disallow", now
    )


def unreachable(reason: str) -> RobotsRules:
    return RobotsRules(None, None, f"robots.txt unreachable ({reason})", time.monotonic())
