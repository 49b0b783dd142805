"""News posts per unit and month, as published now, and what changed since the previous crawl (docs/news.md).

A post is its NukeViet id on its portal. Its categories are the union of the lists it was seen in; it is reform
news when any of them is a CCHC category of the portal or its title has a reform keyword; it counts once, in
the month of its current publication date. Counts come from each category's latest complete walk: pages 1 to
the end, or to where the posts in publication order (the featured first item aside) are all older than
`news.since`. List dates carry no zone: each page's zone is decided from posts whose true time is known (the
feed's UTC date and hour, an article's time and zone); a page whose zone cannot be decided leaves the months
its posts could fall in missing, never counted in a guessed zone. Posts removed, re-dated or backdated since
the previous complete walk are findings, each with the snapshots that show it.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, available_timezones

import pandas as pd

from cchc.settings import Portal, Settings, Unit
from cchc.timeutil import VN_TZ, months_between
from probes.news import CACHED_PAGES, PARTIAL_VIEWS

NEWS_METRICS = ("news_posts", "news_posts_cchc")
VN_MINUTES = 7 * 60
STOP_MARGIN = timedelta(days=2)  # the probe's early stop keeps two days past `since` for a foreign zone


@dataclass(frozen=True)
class NewsFinding:
    """A change to a unit's posts between two complete walks, or a zone correction, with its evidence."""

    unit: str
    kind: str  # backdated | removed | redated | zone
    month: str  # the month it concerns (the post's month now; for a removed post, its month before)
    post_id: int | None
    text: str  # for inspectors, in Vietnamese
    snapshot_ids: list[int] = field(default_factory=list)
    observation_ids: list[int] = field(default_factory=list)


@dataclass
class _Post:
    post_id: int
    title: str
    categories: set[str]
    when: datetime | None  # local (Asia/Ho_Chi_Minh) publication time; None: not known
    doubt: tuple[datetime, datetime] | None  # where `when` may lie when the page's zone was not decided
    observation_ids: list[int]
    snapshot_ids: list[int]


@dataclass
class _Walk:
    portal: str
    category: str
    run_id: int
    complete: bool
    reason: str  # why it is not complete
    stopped_early: bool
    at: datetime  # when its first page was captured
    page_ids: list[int]  # observation ids of its pages
    page_snapshots: list[int]
    posts: dict[int, _Post]
    undated: int  # posts whose date no page, article or feed gave
    zones: dict[int, tuple[str, ...]]  # page → the zones its dates may have been printed in; (): undecided


@dataclass(frozen=True)
class _Row:
    """A news_post observation, in the order its page shows the posts (the order they were stored in)."""

    id: int
    snapshot_id: int
    text: str
    attributes: dict[str, Any]


def _frame(obs: pd.DataFrame, metric: str) -> pd.DataFrame:
    return obs[obs["metric"] == metric]


def is_reform(title: str, categories: Iterable[str], portal: Portal, keywords: Sequence[str]) -> bool:
    if any(c in portal.cchc_categories for c in categories):
        return True
    folded = unicodedata.normalize("NFC", title).casefold()
    return any(re.search(r"(?<!\w)" + re.escape(k.casefold()) + r"(?!\w)", folded) for k in keywords)


# --- walks -----------------------------------------------------------------------------------------------------


def _walks(obs: pd.DataFrame, settings: Settings) -> dict[tuple[str, str], list[_Walk]]:
    """Every walk of every category, per (portal, category), oldest first."""
    pages = _frame(obs, "news_page")
    if pages.empty:
        return {}
    posts = _frame(obs, "news_post")
    articles = _frame(obs, "news_article").sort_values("seq")
    feed = _frame(obs, "news_feed_item")
    # Within one snapshot, observations are stored in the order the page shows the posts.
    posts_by_snapshot: dict[int, list[_Row]] = {}
    for row in sorted(
        zip(posts["id"], posts["snapshot_id"], posts["text"], posts["attributes"], strict=True)
    ):
        posts_by_snapshot.setdefault(int(row[1]), []).append(
            _Row(int(row[0]), int(row[1]), str(row[2] or ""), row[3])
        )
    keyed = pages.assign(
        portal=pages["attributes"].map(lambda a: str(a.get("portal"))),
        category=pages["attributes"].map(lambda a: str(a.get("category"))),
        page=pages["attributes"].map(lambda a: int(a.get("page") or 0)),
    )
    walks: dict[tuple[str, str], list[_Walk]] = {}
    known_times = _KnownTimes(articles, feed)
    for (portal, category, run_id), rows in keyed.groupby(["portal", "category", "run_id"], sort=False):
        known = known_times.of(str(portal), int(run_id))
        walk = _walk(str(portal), str(category), int(run_id), rows, posts_by_snapshot, known, settings)
        if walk is not None:
            walks.setdefault((walk.portal, walk.category), []).append(walk)
    for found in walks.values():
        found.sort(key=lambda w: w.at)
    return walks


@dataclass
class _Known:
    """What tells a post's true time in one run: articles (local time and zone) and feed items (UTC hour)."""

    articles: dict[int, tuple[datetime, int, int, int]]  # post → (true UTC time, zone, observation, snapshot)
    feed: dict[int, datetime]  # post → UTC date and hour
    fresh_zones: tuple[str, ...]  # the zones the site may render for us in: those agreeing with its articles


class _KnownTimes:
    """The true times known in each run of each portal, from the articles and feed items read.

    The rows are split by (portal, run) in one pass, and each portal's times worked out once: looking them up
    by scanning every article and feed item for each walk cost walks x rows (minutes, and the closing summary
    of a 2,000-portal crawl, before)."""

    def __init__(self, articles: pd.DataFrame, feed: pd.DataFrame) -> None:
        self._articles: dict[tuple[object, int], list[tuple[dict[str, Any], int, int]]] = {}
        for a, oid, sid, run in zip(
            articles["attributes"], articles["id"], articles["snapshot_id"], articles["run_id"], strict=True
        ):
            self._articles.setdefault((a.get("portal"), int(run)), []).append((a, int(oid), int(sid)))
        self._feed: dict[tuple[object, int], list[dict[str, Any]]] = {}
        for a, run in zip(feed["attributes"], feed["run_id"], strict=True):
            self._feed.setdefault((a.get("portal"), int(run)), []).append(a)
        self._known: dict[tuple[str, int], _Known] = {}

    def of(self, portal: str, run_id: int) -> _Known:
        key = (portal, run_id)
        if key not in self._known:
            self._known[key] = _known_times(self._articles.get(key, []), self._feed.get(key, []))
        return self._known[key]


def _known_times(
    articles: Sequence[tuple[dict[str, Any], int, int]], feed: Sequence[dict[str, Any]]
) -> _Known:
    """One portal's run: its articles (attributes, observation, snapshot; oldest first) and feed items."""
    by_post: dict[int, tuple[datetime, int, int, int]] = {}
    refs: set[tuple[datetime, int]] = set()
    for a, oid, sid in articles:
        if a.get("post_id") is None:
            continue
        zone = VN_MINUTES if a.get("zone_minutes") is None else int(a["zone_minutes"])
        shown = datetime.fromisoformat(str(a["shown"]))
        by_post[int(a["post_id"])] = (shown - timedelta(minutes=zone), zone, oid, sid)
        refs.add((shown - timedelta(minutes=zone), zone))
    hours: dict[int, datetime] = {}
    for a in feed:
        if a.get("post_id") is not None and a.get("utc_date") and a.get("utc_hour") is not None:
            day = date.fromisoformat(str(a["utc_date"]))
            hours[int(a["post_id"])] = datetime(day.year, day.month, day.day, int(a["utc_hour"]))
    return _Known(by_post, hours, _zones_agreeing(frozenset(refs)) if refs else ())


def _walk(portal: str, category: str, run_id: int, rows: pd.DataFrame, posts_by_snapshot: dict[int, list[_Row]],
          known: _Known, settings: Settings) -> _Walk | None:  # fmt: skip
    ordered = rows.sort_values(["page", "seq"]).drop_duplicates("page")
    contiguous = []
    for expected, row in enumerate(ordered.itertuples(), start=1):
        if row.page != expected:
            break
        contiguous.append(row)
    if not contiguous:
        return None
    at = min(r.fetched_at for r in contiguous).to_pydatetime()
    page_posts = {r.page: posts_by_snapshot.get(int(r.snapshot_id), []) for r in contiguous}
    zones = {page: _page_zone(page, frame, known) for page, frame in page_posts.items()}
    last = contiguous[-1].attributes
    reached_end = last.get("next") is None or bool(last.get("wrapped"))
    stopped_early = not reached_end and _stopped_in_order(page_posts, settings.news.since)
    posts: dict[int, _Post] = {}
    undated = 0
    for page, frame in page_posts.items():
        for r in frame:
            a = r.attributes
            if a.get("post_id") is None:
                continue
            pid = int(a["post_id"])
            when, doubt = _post_time(a, zones[page], known, pid)
            ids, snaps = [int(r.id)], [int(r.snapshot_id)]
            if a.get("listed") is None and pid in known.articles:
                ids.append(known.articles[pid][2])
                snaps.append(known.articles[pid][3])
            if pid in posts:  # the featured post, repeated on every page: one post
                posts[pid].observation_ids += ids
                posts[pid].snapshot_ids += snaps
                continue
            if when is None and doubt is None:
                undated += 1
            posts[pid] = _Post(pid, str(r.text or ""), {category}, when, doubt, ids, snaps)
    complete = reached_end or stopped_early
    reason = "" if complete else f"the walk of {category!r} ended at page {len(contiguous)} before its end"
    partial = next(
        (str(r.attributes.get("view")) for r in contiguous if r.attributes.get("view") in PARTIAL_VIEWS), None
    )
    if partial is not None:
        complete = False
        reason = (f"category {category!r} is shown in NukeViet's {partial} view, which lists a few posts per "
                  "subcategory, never all of them")  # fmt: skip
    return _Walk(portal, category, run_id, complete, reason, stopped_early, at,
                 [int(r.id) for r in contiguous], [int(r.snapshot_id) for r in contiguous], posts, undated, zones)  # fmt: skip


def _stopped_in_order(page_posts: dict[int, list[_Row]], since: date) -> bool:
    """Whether a walk that stopped before the end saw everything since `since`: a list newest first, every post
    dated, each page's first (possibly featured) post aside, reaching a post before `since`."""
    previous: str | None = None
    last: list[str] = []
    for _page, frame in sorted(page_posts.items()):
        listed = [r.attributes.get("listed") for r in frame][1:]
        if any(v is None for v in listed):
            return False
        for value in listed:
            if previous is not None and str(value) > previous:
                return False
            previous = str(value)
        last = [str(v) for v in listed]
    return bool(last) and min(last)[:10] < (since - STOP_MARGIN).isoformat()


def _page_zone(page: int, frame: list[_Row], known: _Known) -> tuple[str, ...]:
    """The time zones (IANA names) a page may have printed its dates in: those that agree with every post of
    the page whose true time is known. Pages past NukeViet's cache window are rendered for us, as the articles
    are. Empty: undecided."""
    refs: set[tuple[datetime, int]] = set()
    for a in (r.attributes for r in frame):
        if a.get("listed") is None or a.get("post_id") is None:
            continue
        listed = datetime.fromisoformat(str(a["listed"]))
        pid = int(a["post_id"])
        if pid in known.articles:
            # The article shows minutes, the list seconds: the difference is the offset to within a minute.
            instant = known.articles[pid][0]
            refs.add((instant, int(round((listed - instant).total_seconds() / 900) * 15)))
        elif pid in known.feed:
            # The feed keeps the UTC hour: a whole-hour offset is the difference floored to the hour.
            hour = known.feed[pid]
            offset = int((listed - hour).total_seconds() // 3600) * 60
            refs.add((hour + timedelta(minutes=listed.minute, seconds=listed.second), offset))
    if refs:
        return _zones_agreeing(frozenset(refs))
    if page > CACHED_PAGES:
        return known.fresh_zones
    return ()


@lru_cache(maxsize=4096)
def _zones_agreeing(refs: frozenset[tuple[datetime, int]]) -> tuple[str, ...]:
    """Every IANA zone whose offset at each instant (UTC) is the one seen there."""
    ordered = sorted(refs)
    return tuple(
        name
        for name, zone in _all_zones().items()
        if all(_offset(zone, at) == minutes for at, minutes in ordered)
    )


def _offset(zone: ZoneInfo, utc_naive: datetime) -> int:
    offset = utc_naive.replace(tzinfo=UTC).astimezone(zone).utcoffset()
    return int(offset.total_seconds() // 60) if offset is not None else 0


@lru_cache(maxsize=1)
def _all_zones() -> dict[str, ZoneInfo]:
    """Every IANA zone, loaded once and kept (ZoneInfo's own cache lets unused zones go)."""
    return {name: ZoneInfo(name) for name in sorted(available_timezones())}


def _post_time(a: dict[str, Any], zones: tuple[str, ...], known: _Known, pid: int
               ) -> tuple[datetime | None, tuple[datetime, datetime] | None]:  # fmt: skip
    """A post's local publication time, or where it may lie when its page's zone is undecided (or the zones
    that agree with what is known disagree about this post)."""
    if a.get("listed") is None:
        if pid in known.articles:
            return _local(known.articles[pid][0]), None
        return None, None
    listed = datetime.fromisoformat(str(a["listed"]))
    known_zones = _all_zones()
    candidates = {listed.replace(tzinfo=known_zones[z]).astimezone(VN_TZ) for z in zones}
    if len(candidates) == 1:
        return candidates.pop(), None
    # Zones run from UTC-12 to UTC+14: the local time lies between these.
    return None, (
        listed - timedelta(minutes=14 * 60 - VN_MINUTES),
        listed + timedelta(minutes=VN_MINUTES + 12 * 60),
    )


def _local(utc_naive: datetime) -> datetime:
    return (utc_naive + timedelta(minutes=VN_MINUTES)).replace(tzinfo=VN_TZ)


# --- counts ----------------------------------------------------------------------------------------------------


@dataclass
class NewsResult:
    figures: list[Any]  # observed.Figure rows
    findings: list[NewsFinding]


def _latest_complete(found: list[_Walk]) -> tuple[_Walk | None, _Walk | None]:
    complete = [w for w in found if w.complete]
    return (complete[-1] if complete else None), (complete[-2] if len(complete) > 1 else None)


def _merged(walks: Iterable[_Walk]) -> dict[int, _Post]:
    """Posts of several walks of one portal, by id: categories unioned, the newest walk's date."""
    merged: dict[int, _Post] = {}
    for walk in sorted(walks, key=lambda w: w.at):
        for pid, post in walk.posts.items():
            if pid in merged:
                seen = merged[pid]
                seen.categories |= post.categories
                seen.observation_ids += post.observation_ids
                seen.snapshot_ids += post.snapshot_ids
                if post.when is not None or post.doubt is not None:
                    seen.when, seen.doubt = post.when, post.doubt
            else:
                merged[pid] = _Post(pid, post.title, set(post.categories), post.when, post.doubt,
                                    list(post.observation_ids), list(post.snapshot_ids))  # fmt: skip
    return merged


def news_counts(
    obs: pd.DataFrame, settings: Settings, units: Sequence[Unit], why: Any, figure: Any
) -> NewsResult:
    """Figures (built with `figure`, observed.Figure) and findings of every unit. `why(unit)` says why a
    category has no walk at all (the unit's latest news failure), or ''."""
    walks = _walks(obs, settings)
    moved = _frame(obs, "news_site_moved")
    figures: list[Any] = []
    findings: list[NewsFinding] = []
    keywords = settings.news.cchc_keywords
    latest_of_portal: dict[str, list[_Walk | None]] = {}  # per portal, not per unit: units x walks at 2,000
    for (portal_id, _), found in walks.items():
        latest_of_portal.setdefault(portal_id, []).append(_latest_complete(found)[0])
    for unit in units:
        portal = settings.portal_by_id(unit.portal)
        categories = list(unit.news_categories or portal.categories)
        problem = ""
        latest: list[_Walk] = []
        previous: list[_Walk] = []
        for category in categories:
            newest, before = _latest_complete(walks.get((portal.id, category), []))
            if newest is None:
                moved_here = moved[moved["unit"] == unit.id]
                attempts = walks.get((portal.id, category), [])
                if len(moved_here):
                    problem = f"the site moved to {moved_here.sort_values('seq')['text'].iloc[-1]}"
                elif attempts:
                    problem = attempts[-1].reason
                else:
                    problem = f"no complete capture of category {category!r}" + (
                        f": {w}" if (w := why(unit.id)) else ""
                    )
                break
            latest.append(newest)
            if before is not None:
                previous.append(before)
        end = max((w.at for w in latest), default=None)
        last_day = end.astimezone(VN_TZ).date() if end else date.today()
        months = months_between(settings.news.since, last_day)
        if problem:
            figures += [
                figure(unit.id, m, month, None, "missing", problem) for month in months for m in NEWS_METRICS
            ]
            continue
        # Every walk of the portal tells a post's categories; the unit's own walks tell which posts are its.
        everything = _merged(w for w in latest_of_portal.get(portal.id, []) if w is not None)
        mine = {pid for w in latest for pid in w.posts}
        posts = {pid: everything[pid] for pid in mine}
        undated = [p for p in posts.values() if p.when is None and p.doubt is None]
        doubtful = {
            m for p in posts.values() if p.doubt for m in months_between(p.doubt[0].date(), p.doubt[1].date())
        }
        page_ids = sorted({i for w in latest for i in w.page_ids})
        page_snaps = sorted({s for w in latest for s in w.page_snapshots})
        dated_in: dict[str, list[_Post]] = {}  # per month, in the order of posts
        for post in posts.values():
            if post.when is not None:
                dated_in.setdefault(f"{post.when:%Y-%m}", []).append(post)
        for month in months:
            if undated:
                reason = (f"{len(undated)} posts are listed without a date and their articles were not read "
                          f"(e.g. post {undated[0].post_id})")  # fmt: skip
                figures += [figure(unit.id, m, month, None, "missing", reason) for m in NEWS_METRICS]
                continue
            if month in doubtful:
                reason = ("the time zone its list pages were printed in could not be decided (no feed item or "
                          "article to compare with): a post's month is not known")  # fmt: skip
                figures += [figure(unit.id, m, month, None, "missing", reason) for m in NEWS_METRICS]
                continue
            in_month = dated_in.get(month, [])
            reform = [p for p in in_month if is_reform(p.title, p.categories, portal, keywords)]
            ids = sorted(set(page_ids) | {i for p in in_month for i in p.observation_ids})
            snaps = sorted(set(page_snaps) | {s for p in in_month for s in p.snapshot_ids})
            for metric, chosen in (("news_posts", in_month), ("news_posts_cchc", reform)):
                figures.append(figure(unit.id, metric, month, float(len(chosen)), observed_at=end,
                                      observation_ids=ids, snapshot_ids=snaps,
                                      detail={"posts": sorted(p.post_id for p in chosen)}))  # fmt: skip
        findings += _changes(unit, latest, previous, everything, months)
        findings += _zone_notes(unit, latest)
    return NewsResult(figures, findings)


# --- findings --------------------------------------------------------------------------------------------------


def _day(moment: datetime) -> str:
    return f"{moment:%d/%m/%Y}"


def _changes(unit: Unit, latest: list[_Walk], previous: list[_Walk], now: dict[int, _Post], months: list[str]
             ) -> list[NewsFinding]:  # fmt: skip
    """Removed, re-dated and backdated posts: the unit's latest complete walks against the ones before."""
    if not previous:
        return []
    before = _merged(previous)
    # Only categories walked both times: a category first walked now has no "before" to differ from.
    compared = {w.category for w in previous}
    after = {pid: now[pid] for w in latest if w.category in compared for pid in w.posts if pid in now}
    walked_before = min(w.at for w in previous).astimezone(VN_TZ)
    walked_after = max(w.at for w in latest).astimezone(VN_TZ)
    first_pages = [w.page_snapshots[0] for w in latest]
    found: list[NewsFinding] = []
    covered = set(months)
    for pid, old in sorted(before.items()):
        new = after.get(pid)
        old_month = f"{old.when:%Y-%m}" if old.when else ""
        if new is None:
            if old_month in covered:
                text = (
                    f"Bài {pid} («{old.title}», đăng {_day(old.when) if old.when else '?'}) có trong lần thu "
                    f"ngày {_day(walked_before)} nhưng đã bị gỡ trước lần thu ngày {_day(walked_after)}."
                )
                found.append(NewsFinding(unit.id, "removed", old_month, pid, text,
                                         sorted(set(old.snapshot_ids) | set(first_pages)), old.observation_ids))  # fmt: skip
            continue
        if old.when is not None and new.when is not None and old.when.date() != new.when.date():
            text = (
                f"Bài {pid} («{new.title}») đổi ngày đăng từ {_day(old.when)} (lần thu ngày {_day(walked_before)}) "
                f"thành {_day(new.when)} (lần thu ngày {_day(walked_after)})."
            )
            found.append(NewsFinding(unit.id, "redated", f"{new.when:%Y-%m}", pid, text,
                                     sorted(set(old.snapshot_ids) | set(new.snapshot_ids)),
                                     old.observation_ids + new.observation_ids))  # fmt: skip
    for pid, new in sorted(after.items()):
        if pid in before or new.when is None or new.when >= walked_before:
            continue
        month = f"{new.when:%Y-%m}"
        if month not in covered:
            continue
        text = (
            f"Bài {pid} («{new.title}») ghi ngày đăng {_day(new.when)} nhưng chưa có trong lần thu ngày "
            f"{_day(walked_before)}: xuất hiện lần đầu ở lần thu ngày {_day(walked_after)} (đăng bù, ghi lùi ngày)."
        )
        found.append(NewsFinding(unit.id, "backdated", month, pid, text,
                                 sorted(set(new.snapshot_ids) | {w.page_snapshots[0] for w in previous}),
                                 new.observation_ids))  # fmt: skip
    return found


def _zone_notes(unit: Unit, latest: list[_Walk]) -> list[NewsFinding]:
    """Pages printed in another zone than Vietnam's (a byCountry site's cache): corrected, and said so."""
    notes: list[NewsFinding] = []
    for walk in latest:
        foreign = sorted(p for p, z in walk.zones.items() if z and "Asia/Ho_Chi_Minh" not in z)
        if not foreign:
            continue
        at = walk.at.astimezone(UTC).replace(tzinfo=None)
        offsets = sorted({_offset(_all_zones()[z], at) for z in walk.zones[foreign[0]]})
        shown = ", ".join(f"UTC{'+' if m >= 0 else '-'}{abs(m) // 60:02d}:{abs(m) % 60:02d}" for m in offsets)
        text = (f"Chuyên mục {walk.category}: trang {', '.join(map(str, foreign))} in giờ theo múi {shown}, không "
                "phải giờ Việt Nam (bộ nhớ đệm của trang được tạo cho khách ở nước ngoài); ngày đăng đã được quy "
                "về giờ Việt Nam theo RSS và trang bài viết.")  # fmt: skip
        snaps = [walk.page_snapshots[p - 1] for p in foreign if p - 1 < len(walk.page_snapshots)]
        notes.append(NewsFinding(unit.id, "zone", "", None, text, snaps, []))
    return notes


def findings_frame(findings: Sequence[NewsFinding]) -> pd.DataFrame:
    columns = ["unit", "kind", "month", "post_id", "text", "snapshot_ids", "observation_ids"]
    return pd.DataFrame([f.__dict__ for f in findings], columns=columns)
