"""A general capture machine: polite HTTP fetching and browser rendering; it knows nothing of portals or units."""

from crawler._models import BrowserStep, Capture, Header, Hop, Outcome, SubResponse, Target
from crawler.fetcher import FetchPolicy, HttpFetcher, host_key
from crawler.politeness import Politeness

__all__ = [
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
