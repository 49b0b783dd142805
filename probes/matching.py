"""Finding our units among the agencies a portal lists: by id, then by code, then by normalised Vietnamese name.

General on purpose: a candidate is whatever a directory or report row says of an agency (an id, a code, a
name; any may be absent), a wanted agency is one of ours with what the configuration knows of it. Each match
says how it was made; two candidates, or none, is a finding that names the unit and the rows, never a guess.

    >>> name_key("UBND Phường IV") == name_key("Phường 4") == name_key("P.4")
    True
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

Method = Literal["id", "code", "name"]
METHODS: tuple[Method, ...] = ("id", "code", "name")

# Administrative kinds a name may start with, longest first; an abbreviation needs its dot or a space after it
# (so that "Phan" is not "P." + "han").
_KINDS: tuple[tuple[str, str], ...] = (
    (r"thị trấn\s*|tt\.\s*", "thi_tran"),
    (r"thành phố\s*|tp\.\s*|tp\s+", "thanh_pho"),
    (r"thị xã\s*|tx\.\s*", "thi_xa"),
    (r"phường\s*|p\.\s*|p\s+(?=\d)|p(?=\d)", "phuong"),
    (r"xã\s*|x\.\s*", "xa"),
    (r"huyện\s*|h\.\s*", "huyen"),
    (r"tỉnh\s*", "tinh"),
)
_KIND_PATTERNS = tuple((re.compile("^(?:" + pattern + ")"), kind) for pattern, kind in _KINDS)
# "Ủy ban nhân dân" is written with the tone mark on either vowel ("Ủy" / "Uỷ").
_COMMITTEE = re.compile(r"^(?:ubnd|ủy ban nhân dân|uỷ ban nhân dân)\s+")
_ROMAN = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}
_ROMAN_FORM = re.compile(r"^(?=[ivxlc]+$)c{0,3}(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")


@dataclass(frozen=True, order=True)
class NameKey:
    """A name reduced to what identifies it: its administrative kind (when it says one) and its core."""

    kind: str | None
    core: str

    def same_as(self, other: NameKey) -> bool:
        """Equal cores, and kinds that do not contradict each other ("Phường 1" is not "Xã 1")."""
        if not self.core or self.core != other.core:
            return False
        return self.kind is None or other.kind is None or self.kind == other.kind


def _roman(text: str) -> int | None:
    if not text or not _ROMAN_FORM.match(text):
        return None
    total = 0
    for n, letter in enumerate(text):
        value = _ROMAN[letter]
        following = _ROMAN[text[n + 1]] if n + 1 < len(text) else 0
        total += -value if value < following else value
    return total


def name_key(name: str) -> NameKey:
    """NFC, case-folded, without "UBND"/"Ủy ban nhân dân", with its kind (Phường, P., Xã, Thị trấn, TP., …) set
    apart, a qualifier in brackets or after a comma dropped, and a numeral written one way ("IV", "04" → "4")."""
    text = unicodedata.normalize("NFC", name).replace("\xa0", " ").casefold()
    text = re.sub(r"\([^)]*\)", " ", text).split(",", 1)[0]
    # api/v1 names some communes "UBND xã Bình Phú - Tỉnh Phú Thọ": the province after a dash qualifies it.
    text = re.sub(r"\s[-–—]\s*(?:tỉnh|thành phố)\s.*$", "", text)
    text = re.sub(r"[–—-]", " ", text)
    text = re.sub(r"\s+", " ", text).strip()
    text = _COMMITTEE.sub("", text)
    kind: str | None = None
    for pattern, candidate_kind in _KIND_PATTERNS:
        found = pattern.match(text)
        if found:
            kind, text = candidate_kind, text[found.end() :].strip()
            break
    text = re.sub(r"^số\s+", "", text)
    if text.isdigit():
        text = str(int(text))
    elif kind in ("phuong", None) and (number := _roman(text)) is not None:  # wards are numbered "Phường IV"
        text = str(number)
    return NameKey(kind, text)


@dataclass(frozen=True)
class Candidate:
    """An agency as a portal lists it. `where` says where it was seen (row 5 of a report), for findings."""

    id: str | None = None
    code: str | None = None
    name: str | None = None
    where: str = ""
    extra: Mapping[str, object] = field(default_factory=dict)

    def describe(self) -> str:
        parts = [f"{self.name!r}" if self.name else "no name"]
        parts += [f"id {self.id}"] if self.id else []
        parts += [f"code {self.code}"] if self.code else []
        text = ", ".join(parts)
        return f"{text} ({self.where})" if self.where else text

    def as_dict(self) -> dict[str, object]:
        return {"id": self.id, "code": self.code, "name": self.name, "where": self.where, **self.extra}


@dataclass(frozen=True)
class Wanted:
    """One of our agencies: its key (a unit id, or "city"), its name and the ids the configuration gives."""

    key: str
    name: str
    id: str | None = None
    code: str | None = None


@dataclass(frozen=True)
class Match:
    """How one of our agencies was found among the candidates, or why it was not."""

    wanted: Wanted
    candidate: Candidate | None
    method: Method | None
    problem: Literal["", "none", "ambiguous"] = ""
    rows: tuple[Candidate, ...] = ()  # the tied candidates (ambiguous) or the closest names (none)

    @property
    def found(self) -> bool:
        return self.candidate is not None

    @property
    def differs(self) -> dict[str, tuple[str | None, str]]:
        """What the configuration says that the matched row contradicts: {"id": (configured, found), …}."""
        if self.candidate is None:
            return {}
        out: dict[str, tuple[str | None, str]] = {}
        for name, configured, found in (
            ("id", self.wanted.id, self.candidate.id),
            ("code", self.wanted.code, self.candidate.code),
        ):
            if found and configured != found:
                out[name] = (configured, found)
        return out

    @property
    def name_differs(self) -> bool:
        """Matched by id or code to a row whose name is not the unit's: the id may be another unit's."""
        if self.candidate is None or self.method == "name" or not self.candidate.name:
            return False
        return not name_key(self.wanted.name).same_as(name_key(self.candidate.name))

    def describe(self) -> str:
        """One line an operator reads: how the unit was matched, or what went wrong, naming unit and rows."""
        who = f"{self.wanted.key} ({self.wanted.name})"
        if self.candidate is not None:
            note = "".join(f"; configured {k} {c or '(none)'} ≠ {f}" for k, (c, f) in self.differs.items())
            if self.name_differs:
                note += f"; but the portal names it {self.candidate.name!r}"
            return f"{who}: matched by {self.method} to {self.candidate.describe()}{note}"
        rows = "; ".join(c.describe() for c in self.rows)
        if self.problem == "ambiguous":
            return f"{who}: ambiguous, {len(self.rows)} rows fit by {self.method}: {rows}"
        tried = ", ".join(f"{k} {v}" for k, v in (("id", self.wanted.id), ("code", self.wanted.code)) if v)
        closest = f"; closest names: {rows}" if rows else ""
        return f"{who}: no row matches by {tried + ' or ' if tried else ''}name{closest}"

    def as_dict(self) -> dict[str, object]:
        return {
            "wanted": self.wanted.key,
            "name": self.wanted.name,
            "configured": {"id": self.wanted.id, "code": self.wanted.code},
            "method": self.method,
            "problem": self.problem,
            "row": self.candidate.as_dict() if self.candidate else None,
            "rows": [c.as_dict() for c in self.rows],
            "differs": {k: list(v) for k, v in self.differs.items()},
            "name_differs": self.name_differs,
            "description": self.describe(),
        }


def _same(method: Method, wanted: Wanted, candidate: Candidate) -> bool:
    if method == "id":
        return bool(wanted.id) and _ident(wanted.id) == _ident(candidate.id)
    if method == "code":
        return bool(wanted.code) and _ident(wanted.code) == _ident(candidate.code)
    return candidate.name is not None and name_key(wanted.name).same_as(name_key(candidate.name))


def _ident(value: str | None) -> str:
    """An id or code as compared: trimmed, case-folded, a number without its leading zeros ("007" = "7")."""
    text = (value or "").strip().casefold()
    return str(int(text)) if text.isdigit() else text


def _closest(wanted: Wanted, candidates: Sequence[Candidate], n: int = 3) -> tuple[Candidate, ...]:
    core = name_key(wanted.name).core
    scored = [
        (difflib.SequenceMatcher(None, core, name_key(c.name).core).ratio(), i)
        for i, c in enumerate(candidates)
        if c.name
    ]
    best = sorted(scored, key=lambda s: (-s[0], s[1]))[:n]
    return tuple(candidates[i] for ratio, i in best if ratio >= 0.5)


def match_agencies(wanted: Sequence[Wanted], candidates: Sequence[Candidate]) -> list[Match]:
    """Each wanted agency matched to at most one candidate, in the order of `wanted`.

    All ids are tried first, then codes, then names, so that a row another unit's id claims is never taken
    by a name. A candidate that two of ours would take at the same step, or two candidates for one of ours,
    is ambiguous for those: reported, not guessed.
    """
    results: dict[str, Match] = {}
    claimed: set[int] = set()
    for method in METHODS:
        proposals: dict[str, list[int]] = {}
        for w in wanted:
            if w.key in results:
                continue
            hits = [i for i, c in enumerate(candidates) if i not in claimed and _same(method, w, c)]
            if hits:
                proposals[w.key] = hits
        shared = Counter(i for hits in proposals.values() for i in hits)
        by_key = {w.key: w for w in wanted}
        for key, hits in proposals.items():
            if len(hits) == 1 and shared[hits[0]] == 1:
                results[key] = Match(by_key[key], candidates[hits[0]], method)
                claimed.add(hits[0])
            else:
                # Several rows fit, or the one row that fits fits another of ours too.
                results[key] = Match(
                    by_key[key], None, method, "ambiguous", tuple(candidates[i] for i in hits)
                )
    for w in wanted:
        if w.key not in results:
            free = [c for i, c in enumerate(candidates) if i not in claimed]
            results[w.key] = Match(w, None, None, "none", _closest(w, free))
    return [results[w.key] for w in wanted]
