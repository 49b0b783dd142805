"""What an inspector must never read: an indicator or observation code outside a tag, or an English sentence.
Shared by tests/test_inspector_views.py (pages, summaries, workbooks)."""

from __future__ import annotations

import re

from bs4 import BeautifulSoup

# Where codes and raw data belong: tags, hashes, URLs, raw documents, command lines.
EXEMPT = ("script", "style", "pre", "code", "textarea", "iframe", "input", ".tag", ".hash", ".mono")
CODE = re.compile(
    r"\b(?:I766_\d\w*|PAR_[A-Z0-9_]+|TOTAL_766|TOTAL_PAR|CHECK_766|[a-z][a-z0-9]*(?:_[a-z0-9]+)+)\b"
)
ENGLISH = re.compile(
    r"\b(?:the|of|and|is|are|not|no|with|without|from|for|below|above|provided|coverage|points|evidence|"
    r"published|missing|period|has|have|was|could|be|scored|indicators?|unit|graded|ranked|covered|month)\b"
)
URL = re.compile(r"https?://\S+")


def problems(html: str) -> list[str]:
    soup = BeautifulSoup(html, "html.parser")
    for selector in EXEMPT:
        for element in soup.select(selector):
            element.decompose()
    found = []
    for line in soup.get_text("\n").splitlines():
        text = URL.sub("", line).strip()
        if not text:
            continue
        for pattern, what in ((CODE, "code"), (ENGLISH, "English")):
            match = pattern.search(text)
            if match:
                found.append(f"{what} {match.group(0)!r} in: {text[:160]}")
                break
    return found


def text_problems(text: str) -> list[str]:
    """The same check on a plain text (an XLSX header or cell)."""
    cleaned = URL.sub("", text)
    return [f"{what} {m.group(0)!r} in: {text[:160]}" for pattern, what in ((CODE, "code"), (ENGLISH, "English"))
            if (m := pattern.search(cleaned))]  # fmt: skip
