"""What the simulation is asked to build: units, portals, faults, a seed and an "as of" date.

Plain frozen dataclasses, so that sim/ imports nothing from the rest of cchc-watch; the CLI and the
tests translate the project's settings into a WorldSpec.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date

ONLINE_LEVELS = ("toan_trinh", "mot_phan", "cung_cap_thong_tin")
ONLINE_LEVEL_LABELS = {
    "toan_trinh": "Toàn trình",
    "mot_phan": "Một phần",
    "cung_cap_thong_tin": "Cung cấp thông tin",
}

# Sites that are not news portals have fixed ids.
DVC_SITE = "dvc_tinh"
MOTCUA_SITE = "motcua"
NATIONAL_SITE = "dvc_quocgia"

CONTRACTS = ("full", "public")

FAULT_MODES = (
    "http-500",
    "http-503",
    "rate-limit",
    "slow",
    "hang",
    "truncated",
    "reset",
    "redirect-loop",
    "garbage",
    "drift",
    "moved",
    "gone-404",
    "gone-410",
    "refused",
    "robots-disallow",
    "robots-crawl-delay",
)


@dataclass(frozen=True)
class CitySpec:
    name: str
    portal: str
    dvc_donvi_id: int
    national_id: str
    ma_coquan: str
    national_name: str | None = None  # how the national portal's reports name it, when not as `name`


@dataclass(frozen=True)
class UnitSpec:
    id: str
    kind: str  # phong | phuong | xa
    name: str
    portal: str
    news_categories: tuple[str, ...] = ()
    dvc_donvi_id: int | None = None
    linh_vuc: tuple[str, ...] = ()  # a phòng's fields at the city one-stop desk
    national_id: str | None = None
    ma_coquan: str | None = None
    valid_from: date = date(2014, 1, 1)
    valid_to: date | None = None
    national_name: str | None = None  # how the national portal's reports name it, when not as `name`
    v1_department_id: str | None = None  # its departmentId and code on api/v1 (drawn when not configured)
    v1_department_code: str | None = None


NEWS_VIEWS = ("viewcat_page_new", "viewcat_page_old", "viewcat_list_new", "viewcat_grid_new")


@dataclass(frozen=True)
class SiteSettings:
    """The NukeViet settings of one news site (docs/news.md). Each is the install default unless set, and the
    ground truth stays exact under every one: the sites change how posts are shown, never which exist."""

    per_page: int = 20
    views: tuple[tuple[str, str], ...] = ()  # (category, view) where a category does not use viewcat_page_new
    featured: tuple[str, ...] = ()  # categories whose oldest post is their featured post, shown on every page
    order_by_weight: bool = (
        False  # lists by editors' weight: a few old posts raised to the top of their category
    )
    multi_category: bool = False  # some posts are also listed in a second category
    # byCountry: dates print in the visitor's zone, and pages 1-4 of each category were cached for a visitor
    # in this zone (an IANA name); None: every page in Asia/Ho_Chi_Minh.
    foreign_zone: str | None = None
    rewrite_off: bool = False  # no rewrite rules: /vi/news/… answers 301 to /index.php/vi/news/…
    empty_categories: tuple[str, ...] = ()  # categories that hold no post
    edits: bool = (
        False  # Simulation.edit_news() removes, re-dates and backdates posts here (a second crawl's news)
    )

    def __post_init__(self) -> None:
        if not 1 <= self.per_page <= 200:
            raise ValueError(f"per_page must be 1..200, got {self.per_page}")
        for category, view in self.views:
            if view not in NEWS_VIEWS:
                raise ValueError(
                    f"unknown view {view!r} for {category!r}; expected one of {', '.join(NEWS_VIEWS)}"
                )

    def view(self, category: str) -> str:
        return dict(self.views).get(category, "viewcat_page_new")


FOREIGN_ZONES = ("Asia/Tokyo", "Europe/Berlin", "America/New_York", "Australia/Sydney")


def drawn_site_settings(seed: int, portal_id: str, categories: tuple[str, ...]) -> SiteSettings:
    """A site's NukeViet settings drawn from the seed (the demo's): each departs from the install default now
    and then, so that a demo crawl meets a few of them."""
    rng = random.Random(f"{seed}:site-settings:{portal_id}")
    views = ("viewcat_page_old", "viewcat_list_new", "viewcat_grid_new")
    return SiteSettings(
        per_page=rng.choice((20, 20, 20, 10, 15, 30)),
        views=tuple((c, rng.choice(views)) for c in categories if rng.random() < 0.15),
        featured=tuple(c for c in categories if rng.random() < 0.2),
        order_by_weight=rng.random() < 0.25,
        multi_category=rng.random() < 0.3,
        foreign_zone=rng.choice(FOREIGN_ZONES) if rng.random() < 0.25 else None,
        rewrite_off=rng.random() < 0.2,
        empty_categories=(rng.choice(categories),) if len(categories) > 1 and rng.random() < 0.15 else (),
        edits=rng.random() < 0.5,
    )


@dataclass(frozen=True)
class PortalSpec:
    id: str
    name: str
    categories: tuple[str, ...]
    cchc_categories: tuple[str, ...] = ()
    platform: str = "nukeviet-4.5"
    news_path: str = "/vi/news/"
    rss_path: str = "/vi/news/rss/"
    successor: str | None = None
    valid_from: date = date(2014, 1, 1)
    valid_to: date | None = None
    site: SiteSettings = field(default_factory=SiteSettings)


@dataclass(frozen=True)
class FaultSpec:
    """A fault on one site: every matching request, the first N, or every Nth, optionally under a path."""

    site: str
    mode: str
    path: str | None = None
    first: int | None = None
    every: int | None = None
    retry_after_s: float = 1.0
    delay_s: float = 2.0

    def __post_init__(self) -> None:
        if self.mode not in FAULT_MODES:
            raise ValueError(f"unknown fault mode {self.mode!r}; expected one of {', '.join(FAULT_MODES)}")


@dataclass(frozen=True)
class WorldSpec:
    seed: int
    as_of: date
    province_name: str
    city: CitySpec
    units: tuple[UnitSpec, ...]
    portals: tuple[PortalSpec, ...]
    cchc_keywords: tuple[str, ...]
    # MucDo code the DVC API sends for each online level (the inverse of the config's mucdo_map).
    mucdo_codes: dict[str, str] = field(
        default_factory=lambda: {"toan_trinh": "4", "mot_phan": "3", "cung_cap_thong_tin": "2"}
    )
    impl_level_ids: dict[str, str] = field(default_factory=lambda: {"huyen": "2", "xa": "3"})
    dvc_list_page: str = "/thu-tuc-hanh-chinh"
    dashboard_groups: tuple[str, ...] = (
        "tonghop",
        "congkhaiminhbach",
        "tiendogiaiquyet",
        "dvctructuyen",
        "mucdohailong",
        "mucdosohoa",
    )
    first_month: date = date(2022, 1, 1)
    national_bot_protection: bool = True
    # Whether the monthly summary carries dossiers and feedback still open at the month's end. No public
    # source shows such fields (portals.md §3.3), so both ways are simulated and tested.
    national_pending_counts: bool = True
    i766_discrepancies: int = (
        3  # group scores the dashboard publishes against its own counts (truth lists them)
    )
    # "public": the APIs send only the fields portals.md marks as seen publicly; "full": the assumed ones too.
    contract: str = "full"
    faults: tuple[FaultSpec, ...] = ()
    v1_root: str = (
        ""  # the province's departmentId on api/v1 (the config's root_department_id; drawn when "")
    )

    def __post_init__(self) -> None:
        if self.contract not in CONTRACTS:
            raise ValueError(f"unknown contract {self.contract!r}; expected one of {', '.join(CONTRACTS)}")

    def unit(self, unit_id: str) -> UnitSpec:
        for u in self.units:
            if u.id == unit_id:
                return u
        raise KeyError(unit_id)

    def portal(self, portal_id: str) -> PortalSpec:
        for p in self.portals:
            if p.id == portal_id:
                return p
        raise KeyError(portal_id)

    @property
    def site_ids(self) -> tuple[str, ...]:
        return (DVC_SITE, MOTCUA_SITE, NATIONAL_SITE, *(p.id for p in self.portals))
