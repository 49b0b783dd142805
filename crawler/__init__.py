"""A general capture machine: polite HTTP fetching and browser rendering; it knows nothing of portals or units."""

from typing import TYPE_CHECKING, Any

from crawler._models import BrowserStep, Capture, Header, Hop, Outcome, SubResponse, Target
from crawler.chromium import BrowserNotFound
from crawler.fetcher import FetchPolicy, HttpFetcher, host_key
from crawler.politeness import Politeness

if TYPE_CHECKING:
    from crawler.browser import BrowserRenderer

__all__ = [
    "BrowserNotFound",
    "BrowserRenderer",
    "BrowserStep",
    "Capture",
    "FetchPolicy",
    "Header",
    "Hop",
    "HttpFetcher",
    "Outcome",
    "Politeness",
    "SubResponse",
    "Target",
    "host_key",
]

_BROWSER_NAMES = frozenset({"BrowserRenderer"})


def __getattr__(name: str) -> Any:
    # Playwright is imported on first use of the renderer: a crawl without a browser does not pay for it.
    if name in _BROWSER_NAMES:
        from crawler import browser

        return getattr(browser, name)
    raise AttributeError(f"module 'crawler' has no attribute {name!r}")
