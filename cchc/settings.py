"""Typed settings loaded from config.toml: the inspection, its units, the portals and how to crawl them.

`load_settings()` reads the file named by `--config`, `CCHC_CONFIG` or ./config.toml; every problem
becomes one line of a ConfigError naming the file, the key path and what was expected.
"""

from __future__ import annotations

import os
import re
import tomllib
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping
from datetime import date
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from cchc import __version__
from cchc.errors import ConfigError

CONFIG_ENV = "CCHC_CONFIG"
DATABASE_URL_ENV = "CCHC_DATABASE_URL"
DEFAULT_CONFIG = Path("config.toml")

UnitKind = Literal["phong", "phuong", "xa"]
OnlineLevel = Literal["toan_trinh", "mot_phan", "cung_cap_thong_tin"]
PortalPlatform = Literal["nukeviet-4.5", "nukeviet-3"]
FaultMode = Literal[
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
]

_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_PROBE_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_HOST_NAME = re.compile(
    r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$|^\[?[0-9a-f:.]+\]?$"
)
_SQL_ROLE = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def _check_base_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"expected an http(s) URL with a host, got {value!r}")
    if parts.query or parts.fragment:
        raise ValueError(f"expected a base URL without query or fragment, got {value!r}")
    return value.rstrip("/")


def _check_slug(value: str) -> str:
    if not _SLUG.match(value):
        raise ValueError(f"expected a lower-case slug like 'phuong-1', got {value!r}")
    return value


def _check_probe_name(value: str) -> str:
    if not _PROBE_NAME.match(value):
        raise ValueError(f"expected a probe name like 'service_stats', got {value!r}")
    return value


def _check_host_name(value: str) -> str:
    name = value.strip().lower().removesuffix(".")
    if not _HOST_NAME.match(name):
        raise ValueError(
            f"expected a host name like 'cchc.tayninh.gov.vn' (no scheme, no port), got {value!r}"
        )
    return name


def _check_sql_role(value: str) -> str:
    if not _SQL_ROLE.match(value):
        raise ValueError(f"expected a lower-case PostgreSQL role name like 'cchc_sql_reader', got {value!r}")
    return value


def _check_path(value: str) -> str:
    if not value.startswith("/"):
        raise ValueError(f"expected a path starting with '/', got {value!r}")
    return value


def _nfc(value: str) -> str:
    # Vietnamese text is compared and stored in NFC everywhere; a decomposed config value is normalised once here.
    return unicodedata.normalize("NFC", value)


def _check_timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"expected an IANA time zone such as 'Asia/Ho_Chi_Minh', got {value!r}") from None
    return value


BaseUrl = Annotated[str, AfterValidator(_check_base_url)]
Slug = Annotated[str, AfterValidator(_check_slug)]
ProbeName = Annotated[str, AfterValidator(_check_probe_name)]
UrlPath = Annotated[str, AfterValidator(_check_path)]
HostName = Annotated[str, AfterValidator(_check_host_name)]
SqlRole = Annotated[str, AfterValidator(_check_sql_role)]
Text = Annotated[str, AfterValidator(_nfc), Field(min_length=1)]
TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InspectionSettings(_Section):
    """The inspection this deployment serves (plan 110/KH-UBND for 2023)."""

    id: Slug
    title: Text
    plan: Text
    plan_date: date
    year: int = Field(ge=2000, le=2100)
    ends_by: date
    report_days_before: int = Field(default=5, ge=0, le=60)
    timezone: TimeZoneName = "Asia/Ho_Chi_Minh"


def user_config_dir() -> Path:
    """$XDG_CONFIG_HOME/cchc, else ~/.config/cchc: where the signing key lives, away from the evidence."""
    return _xdg_dir("XDG_CONFIG_HOME", ".config")


def user_data_dir() -> Path:
    """$XDG_DATA_HOME/cchc, else ~/.local/share/cchc: where the witness file is kept."""
    return _xdg_dir("XDG_DATA_HOME", ".local/share")


def _xdg_dir(variable: str, fallback: str) -> Path:
    value = os.environ.get(variable, "")
    base = Path(value) if value and Path(value).is_absolute() else Path.home() / fallback
    return base / "cchc"


# Where cchc-watch 0.1 kept the key, relative to the config's folder: still used (with a warning) when it exists
# and the key's new home does not.
LEGACY_KEY_FILE = Path("data/collector.ed25519")


class CollectorSettings(_Section):
    """Who collects: named in every request's User-Agent and in the evidence's signatures."""

    name: Text = "cchc-watch"
    contact: Text
    key_file: Path = Field(default_factory=lambda: user_config_dir() / "collector.ed25519")
    witness_file: Path = Field(default_factory=lambda: user_data_dir() / "witness.jsonl")

    @property
    def user_agent(self) -> str:
        return f"{self.name}/{__version__} (+{self.contact})"


class PolitenessSettings(_Section):
    """How gently we fetch: one request in flight per host, spaced by max(min_delay_s, k × latency)."""

    min_delay_s: float = Field(default=2.0, ge=0)
    latency_factor: float = Field(default=4.0, ge=0)
    max_retries: int = Field(default=3, ge=0, le=10)
    backoff_base_s: float = Field(default=1.0, ge=0)
    backoff_max_s: float = Field(default=60.0, ge=0)
    retry_after_max_s: float = Field(default=600.0, ge=0)
    connect_timeout_s: float = Field(default=10.0, gt=0)
    read_timeout_s: float = Field(default=30.0, gt=0)
    total_timeout_s: float = Field(default=90.0, gt=0)
    max_body_bytes: int = Field(default=20_000_000, gt=0)
    obey_robots: bool = True


class StorageSettings(_Section):
    """Where evidence lives: a database (SQLite by default) and a folder of content-addressed blobs."""

    database_url: str = "sqlite:///data/cchc.sqlite3"
    blob_dir: Path = Path("data/blobs")
    bundle_dir: Path = Path(
        "out/bundles"
    )  # evidence bundles (WACZ), made by the collector, offered by the web app
    journal_file: Path | None = None  # None: beside the blob folder

    @property
    def journal(self) -> Path:
        """The writer's journal: journal_file, else journal.jsonl beside the blob folder (data/journal.jsonl)."""
        return self.journal_file or self.blob_dir.parent / "journal.jsonl"


class BrowserSettings(_Section):
    """The system Chromium that renders pages JavaScript fills in."""

    executable: str = ""
    page_timeout_s: float = Field(default=30.0, gt=0)
    recycle_context_after: int = Field(default=100, ge=1)
    viewport_width: int = Field(default=1280, ge=320)
    viewport_height: int = Field(default=900, ge=240)


class DvcTinhSource(_Section):
    """The province's public-service portal (Cổng DVC tỉnh) and its JSON API under /api/dvc/."""

    name: Text
    base_url: BaseUrl
    api_path: UrlPath = "/api/dvc/"
    list_page: UrlPath = "/thu-tuc-hanh-chinh"
    page_size: int = Field(default=50, ge=1, le=500)
    # Tây Ninh still returns a numeric MucDo; NĐ 42/2022 has two online levels plus information only.
    mucdo_map: dict[str, OnlineLevel]
    valid_from: date
    valid_to: date | None = None


class MotcuaSource(_Section):
    """The one-stop back office (Một cửa điện tử): a login page only; availability is all we check."""

    name: Text
    base_url: BaseUrl
    login_path: UrlPath = "/"
    valid_from: date
    valid_to: date | None = None


class NationalApi(_Section):
    """Which of the national portal's APIs publishes the 766 figures of the periods a rule set covers: the 2023
    rest.jsp services, or today's api/v1/reporting (docs/portal-fields.md §v1)."""

    api: Literal["rest.jsp", "v1"]
    rule_set: str = Field(min_length=1)  # the rule set (indicators.toml) whose formulas those periods follow
    valid_from: date
    valid_to: date | None = None

    def covers(self, first: date, last: date) -> bool:
        """A period (its first and last day) lies wholly within this API's validity."""
        return self.valid_from <= first and (self.valid_to is None or last <= self.valid_to)


# rest.jsp for the 2023 rule set; api/v1 from the two-tier local government (1 July 2025), whose commune-level
# departments it lists [inferred: the real v1 captures are of 2026-08; when v1 started is not published].
DEFAULT_NATIONAL_APIS = (
    NationalApi(api="rest.jsp", rule_set="tn-2023-inspection", valid_from=date(2019, 12, 9),
                valid_to=date(2025, 6, 30)),
    NationalApi(api="v1", rule_set="dvcqg-v1", valid_from=date(2025, 7, 1)),
)  # fmt: skip


class NationalSource(_Section):
    """The national public-service portal (Cổng DVCQG): POST /jsp/rest.jsp, POST /api/v1/reporting/... and the
    JS-filled dashboards."""

    name: Text
    base_url: BaseUrl
    rest_path: UrlPath = "/jsp/rest.jsp"
    province_name: Text
    # Unknown for the real site: resolved by name from a p_tinh_id=0 call when empty.
    province_id: str = ""
    # impl_level_id values of procedure_advanced_search_service_v2, per unit level.
    impl_level_ids: dict[Literal["huyen", "xa"], str]
    # Decision-766 dashboard groups and their maxima, as the dashboard pages name them.
    dashboard_groups: dict[str, float]
    bot_cookie_page: UrlPath = "/p/home/dvc-index-tinhthanhpho-tonghop.html"
    # Which API each period is read from, by rule set; a period no entry covers wholly is read from rest.jsp.
    apis: list[NationalApi] = list(DEFAULT_NATIONAL_APIS)
    # The province's departmentId (a UUID) on api/v1: the root whose departments the evaluations list.
    # Unknown for Tây Ninh: `cchc discover` cannot find it (api/v1 has no list of provinces we know of).
    root_department_id: str = ""
    valid_from: date
    valid_to: date | None = None

    def api_for(self, first: date, last: date) -> NationalApi:
        """The API a period (its first and last day) is read from: the first entry that covers it wholly."""
        return next((a for a in self.apis if a.covers(first, last)), DEFAULT_NATIONAL_APIS[0])


class Sources(_Section):
    dvc_tinh: DvcTinhSource
    motcua: MotcuaSource
    dvc_quocgia: NationalSource


class CitySettings(_Section):
    """The city people's committee: parent of the units, owner of the city portal and the one-stop desk."""

    name: Text
    portal: Slug
    dvc_donvi_id: int
    national_id: str
    ma_coquan: str
    valid_from: date
    valid_to: date | None = None


class Portal(_Section):
    """A NukeViet news portal (the city's or a ward's), with its categories and URL layout."""

    id: Slug
    name: Text
    base_url: BaseUrl
    platform: PortalPlatform = "nukeviet-4.5"
    news_path: UrlPath = "/vi/news/"
    rss_path: UrlPath = "/vi/news/rss/"
    categories: list[Slug] = Field(min_length=1)
    cchc_categories: list[Slug] = []
    valid_from: date
    valid_to: date | None = None
    successor: Slug | None = None

    @model_validator(mode="after")
    def _cchc_categories_are_categories(self) -> Portal:
        unknown = [c for c in self.cchc_categories if c not in self.categories]
        if unknown:
            raise ValueError(f"cchc_categories {unknown} are not in categories {self.categories}")
        return self


class Unit(_Section):
    """An inspected unit: a city department (phòng) or a ward/commune (phường/xã), with its ids on the portals."""

    id: Slug
    kind: UnitKind
    name: Text
    portal: Slug
    # A phòng's posts are those in its categories of the city portal (plan II.1.e); empty means every category.
    news_categories: list[Slug] = []
    # A ward's own unit id on the province DVC portal; a phòng's procedures are the city's in its fields.
    dvc_donvi_id: int | None = None
    # Lĩnh vực (fields) a phòng answers for at the city one-stop desk: the field → phòng attribution.
    dvc_linh_vuc: list[Text] = []
    # Their LinhVucID on the province DVC portal (LoadCBoLinhVuc), by field name; `cchc discover` fills them in.
    # The public procedure list gives a row's LinhVucID only, not its field's name.
    dvc_linh_vuc_ids: dict[Text, int] = {}
    national_id: str | None = None
    ma_coquan: str | None = None
    # The unit's departmentId (UUID) and departmentCode ("H44.100") on the national api/v1; `cchc discover`
    # proposes them from the root department's tree.
    v1_department_id: str | None = None
    v1_department_code: str | None = None
    valid_from: date
    valid_to: date | None = None
    successor: Slug | None = None

    @model_validator(mode="after")
    def _ids_fit_the_kind(self) -> Unit:
        if self.kind != "phong" and self.dvc_linh_vuc:
            raise ValueError("dvc_linh_vuc is for phòng only; a ward's fields come from its dvc_donvi_id")
        stray = [name for name in self.dvc_linh_vuc_ids if name not in self.dvc_linh_vuc]
        if stray:
            raise ValueError(f"dvc_linh_vuc_ids names fields {stray} that are not in dvc_linh_vuc")
        if self.valid_to is not None and self.valid_to < self.valid_from:
            raise ValueError(f"valid_to {self.valid_to} is before valid_from {self.valid_from}")
        return self


def _check_cron(value: str) -> str:
    from cchc.cron import CronError, cron_trigger

    try:
        cron_trigger(value, ZoneInfo("UTC"))
    except CronError as exc:
        raise ValueError(str(exc)) from None
    return value


CronExpression = Annotated[str, AfterValidator(_check_cron)]


class Schedule(_Section):
    """When a probe runs: a cron expression in the inspection's time zone, with jitter."""

    probe: ProbeName
    cron: CronExpression
    jitter_s: int = Field(default=0, ge=0)
    timeout_s: float = Field(default=3600.0, gt=0)
    browser: bool = True  # also capture the JavaScript-filled pages (visual evidence)


class SchedulerSettings(_Section):
    """How the daemon (`cchc run`) schedules: APScheduler's knobs, set explicitly, and the lease."""

    # A fire time missed by less than this (the daemon was down, the machine asleep) still runs, once.
    misfire_grace_s: int = Field(default=21600, ge=1)
    max_parallel_jobs: int = Field(default=2, ge=1, le=16)
    lease_ttl_s: float = Field(default=60.0, gt=0)
    heartbeat_s: float = Field(default=15.0, gt=0)
    standby_poll_s: float = Field(default=5.0, gt=0)
    shutdown_grace_s: float = Field(default=30.0, ge=0)
    calendar_hour: int = Field(default=7, ge=0, le=23)  # local hour of a visit's preparation crawl

    @model_validator(mode="after")
    def _heartbeat_inside_the_lease(self) -> SchedulerSettings:
        if self.heartbeat_s >= self.lease_ttl_s:
            raise ValueError(
                f"heartbeat_s {self.heartbeat_s} must be shorter than lease_ttl_s {self.lease_ttl_s}"
            )
        return self


class AlertSettings(_Section):
    """Where the daemon says that something went wrong (a failed or missed run, a layout not recognised, a site
    down or moved, a failed verify, a unit with no data): a webhook (JSON POST) and/or email, or neither."""

    webhook_url: str | None = None  # http(s) URL that receives one JSON object per alert (or per digest)
    smtp_host: str | None = None
    smtp_port: int = Field(default=25, ge=1, le=65535)
    smtp_starttls: bool = False
    smtp_user: str | None = None  # its password comes from $CCHC_SMTP_PASSWORD, never the config file
    mail_from: str = "cchc-watch@localhost"
    mail_to: list[str] = []
    # Links in alerts point at the web app here (`cchc serve`), e.g. https://cchc.example.vn
    web_url: str = "http://127.0.0.1:8000"
    # The same alert (same kind and subject) is not sent again within this time while the problem lasts.
    repeat_after_s: int = Field(default=86400, ge=0, le=30 * 86400)
    digest: bool = (
        False  # collect alerts and send one digest a day at digest_hour (local), instead of at once
    )
    digest_hour: int = Field(default=7, ge=0, le=23)
    timeout_s: float = Field(default=10.0, gt=0, le=120)

    @property
    def enabled(self) -> bool:
        return bool(self.webhook_url or (self.smtp_host and self.mail_to))

    @model_validator(mode="after")
    def _complete(self) -> AlertSettings:
        if self.smtp_host and not self.mail_to:
            raise ValueError("smtp_host is set but mail_to names nobody")
        if self.webhook_url and not self.webhook_url.startswith(("http://", "https://")):
            raise ValueError(f"webhook_url must be an http(s) URL, got {self.webhook_url!r}")
        return self


class Visit(_Section):
    """A planned inspection visit: the unit's summary is due report_days_before it."""

    unit: Slug
    date: date


class NewsSettings(_Section):
    """How news posts are classified: posts on administrative reform are counted apart."""

    cchc_keywords: list[Text] = Field(min_length=1)
    # How far back category pages are followed: the inspection year and the one before (re-inspections).
    since: date


class IndicatorSettings(_Section):
    """Where the indicator definitions (weights, thresholds, targets, bands) are: a TOML file of their own."""

    file: Path = Path("indicators.toml")
    # A period longer than this is refused: a table is computed month by month, so its span bounds the work.
    max_period_months: int = Field(default=120, ge=1, le=1200)


class WebSettings(_Section):
    """The web app (`cchc serve`): where it listens, the token that guards it, its limits, the analysts' SQL."""

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    # Required when host is not loopback; always required to trigger a surprise crawl.
    token: str = ""
    # Host names it answers to besides localhost, loopback addresses and the address it is bound to: a request
    # naming any other Host is refused (DNS rebinding).
    allowed_hosts: list[HostName] = []
    request_timeout_s: float = Field(default=30.0, gt=0)  # every request answers within this, or 503
    shutdown_grace_s: float = Field(default=5.0, ge=0)  # after SIGTERM, requests in flight get this long
    sql_timeout_s: float = Field(default=5.0, gt=0)
    sql_row_limit: int = Field(default=1000, ge=1)
    sql_max_bytes: int = Field(default=5_000_000, ge=1000)  # a SQL result stops (truncated) beyond this
    # Empty: SQLite's storage file, read-only; on PostgreSQL the storage URL as the role sql_role.
    sql_database_url: str = ""
    sql_role: SqlRole = "cchc_sql_reader"  # PostgreSQL: a SELECT-only role (`cchc db init-readonly`)
    sql_allow_superuser: bool = (
        False  # PostgreSQL: let the SQL page run as a superuser (it refuses otherwise)
    )


class TimestampAuthority(_Section):
    """An RFC 3161 time-stamping authority: where to ask, and the certificates its tokens must chain to."""

    name: Slug
    url: BaseUrl
    # PEM file with the authority's root certificate (and any intermediates): pinned, never taken from a token.
    certificates: Path
    timeout_s: float = Field(default=10.0, gt=0, le=120)


class TimestampSettings(_Section):
    """Trusted timestamps (RFC 3161) for each signed checkpoint and each evidence bundle."""

    authority: list[TimestampAuthority] = []
    # Production asks at least two independent authorities; `config check` warns below this.
    min_authorities: int = Field(default=2, ge=0, le=10)
    retry_every_s: int = Field(default=600, ge=10)  # the daemon's retry of pending timestamps


class SimFault(_Section):
    """A fault the simulated portals inject on one site."""

    site: Slug
    mode: FaultMode
    path: str | None = None
    first: int | None = Field(default=None, ge=1)
    every: int | None = Field(default=None, ge=1)
    retry_after_s: float = Field(default=1.0, ge=0)
    delay_s: float = Field(default=2.0, ge=0)


class SimSettings(_Section):
    """The simulated portals: seed and "as of" date of their data, where they listen, their faults."""

    seed: int = 20230526
    as_of: date = date(2023, 9, 30)
    host: str = "127.0.0.1"
    port_base: int = Field(default=0, ge=0, le=65000)
    national_bot_protection: bool = True
    national_pending_counts: bool = True
    i766_discrepancies: int = Field(default=3, ge=0, le=50)
    # "public": the simulated APIs send only the fields portals.md marks as seen publicly (the real portals may
    # send no more); "full": also the fields we assume (MaThuTuc, TenLinhVuc, the procedure detail endpoint).
    contract: Literal["full", "public"] = "full"
    # The simulated NukeViet sites' settings (docs/news.md): "install", every site as installed; "random", each
    # site's drawn from the seed (`cchc demo` always draws them).
    nukeviet_settings: Literal["install", "random"] = "install"
    faults: list[SimFault] = []


class Settings(_Section):
    inspection: InspectionSettings
    collector: CollectorSettings
    politeness: PolitenessSettings = PolitenessSettings()
    storage: StorageSettings = StorageSettings()
    browser: BrowserSettings = BrowserSettings()
    news: NewsSettings
    city: CitySettings
    sources: Sources
    portal: list[Portal] = Field(min_length=1)
    unit: list[Unit] = Field(min_length=1)
    scheduler: SchedulerSettings = SchedulerSettings()
    indicators: IndicatorSettings = IndicatorSettings()
    web: WebSettings = WebSettings()
    schedule: list[Schedule] = []
    visit: list[Visit] = []
    sim: SimSettings = SimSettings()
    timestamp: TimestampSettings = TimestampSettings()
    alerts: AlertSettings = AlertSettings()
    _source_file: str = PrivateAttr(default="config.toml")

    @property
    def source_file(self) -> str:
        """The file these settings were read from, for error messages."""
        return self._source_file

    def reference_problems(self) -> list[str]:
        """Ids that must be unique and references that must resolve, checked across tables."""
        problems: list[str] = []
        problems += _duplicates("portal", (p.id for p in self.portal))
        problems += _duplicates("unit", (u.id for u in self.unit))
        portals = {p.id: p for p in self.portal}
        units = {u.id for u in self.unit}
        if self.city.portal not in portals:
            problems.append(f"city.portal: expected a portal id from [[portal]], got {self.city.portal!r}")
        for p in self.portal:
            if p.successor is not None and p.successor not in portals:
                problems.append(f"portal[{p.id}].successor: expected a portal id, got {p.successor!r}")
        for u in self.unit:
            portal = portals.get(u.portal)
            if portal is None:
                problems.append(
                    f"unit[{u.id}].portal: expected a portal id from [[portal]], got {u.portal!r}"
                )
            else:
                stray = [c for c in u.news_categories if c not in portal.categories]
                if stray:
                    problems.append(
                        f"unit[{u.id}].news_categories: {stray} are not categories of portal {portal.id!r}"
                    )
            if u.successor is not None and u.successor not in units:
                problems.append(f"unit[{u.id}].successor: expected a unit id, got {u.successor!r}")
        claimed: dict[str, str] = {}
        for u in self.unit:
            for field_name in u.dvc_linh_vuc:
                if field_name in claimed:
                    problems.append(
                        f"unit[{u.id}].dvc_linh_vuc: {field_name!r} is already the field of unit {claimed[field_name]!r}; "
                        "a field's dossiers and procedures must belong to one phòng"
                    )
                claimed.setdefault(field_name, u.id)
        for i, v in enumerate(self.visit):
            if v.unit not in units:
                problems.append(f"visit[{i}].unit: expected a unit id from [[unit]], got {v.unit!r}")
        names = Counter(a.name for a in self.timestamp.authority)
        problems += [
            f"timestamp.authority[{n}].name: duplicate name {n!r}" for n, k in names.items() if k > 1
        ]
        sim_sites = {"dvc_tinh", "motcua", "dvc_quocgia", *portals}
        for i, f in enumerate(self.sim.faults):
            if f.site not in sim_sites:
                problems.append(f"sim.faults[{i}].site: expected one of {sorted(sim_sites)}, got {f.site!r}")
        return problems

    # Convenience views used across the rooms.
    def unit_by_id(self, unit_id: str) -> Unit:
        for u in self.unit:
            if u.id == unit_id:
                return u
        raise KeyError(unit_id)

    def portal_by_id(self, portal_id: str) -> Portal:
        for p in self.portal:
            if p.id == portal_id:
                return p
        raise KeyError(portal_id)

    def units_in_inspection(self) -> list[Unit]:
        """Units that existed during the inspection year (successor wards of 2025 are configured, not inspected)."""
        start, end = date(self.inspection.year, 1, 1), date(self.inspection.year, 12, 31)
        return [u for u in self.unit if u.valid_from <= end and (u.valid_to is None or u.valid_to >= start)]

    def evidence_folders(self) -> list[Path]:
        """The folders that hold the evidence: the blob folder, and the SQLite database's folder."""
        folders = [self.storage.blob_dir]
        url = self.storage.database_url
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            folders.append(Path(url.removeprefix("sqlite:///")).parent)
        return folders

    def trust_warnings(self) -> list[str]:
        """What weakens the evidence's signatures: a signing key or a witness kept with the evidence it vouches
        for, where whoever can rewrite the evidence can also replace them."""
        warnings = []
        for path, what, home in (
            (self.collector.key_file, "signing key", user_config_dir() / "collector.ed25519"),
            (self.collector.witness_file, "witness file", user_data_dir() / "witness.jsonl"),
        ):
            inside = next((f for f in self.evidence_folders() if path.is_relative_to(f)), None)
            if inside is not None:
                setting = "collector.key_file" if what == "signing key" else "collector.witness_file"
                warnings.append(
                    f"the {what} {path} is inside the evidence folder {inside}: whoever can rewrite the evidence "
                    f"can replace it too. Move it: mkdir -p -m 700 {home.parent} && mv {path} {home}, then remove "
                    f"{setting} from the config (see docs/evidence.md, 'The key's home')"
                )
        return warnings

    def base_urls(self) -> list[str]:
        """Every site the configuration names; the crawler fetches nothing else."""
        urls = [s.base_url for s in (self.sources.dvc_tinh, self.sources.motcua, self.sources.dvc_quocgia)]
        return urls + [p.base_url for p in self.portal]


def _duplicates(table: str, ids: Iterable[str]) -> list[str]:
    return [f"{table}[{i}].id: duplicate id {i!r}" for i, n in Counter(ids).items() if n > 1]


# ---------------------------------------------------------------------------------------------------------------
# Loading


def config_path(explicit: Path | str | None = None, environ: Mapping[str, str] | None = None) -> Path:
    """The config file to read: the explicit one, else $CCHC_CONFIG, else ./config.toml."""
    if explicit:
        return Path(explicit)
    env = (os.environ if environ is None else environ).get(CONFIG_ENV)
    return Path(env) if env else DEFAULT_CONFIG


def load_settings(path: Path | str | None = None, *, environ: Mapping[str, str] | None = None) -> Settings:
    """Read, validate and resolve a config file; relative paths are taken from the file's folder."""
    env = os.environ if environ is None else environ
    file = config_path(path, env)
    return settings_from_mapping(read_toml(file), source=file, environ=env)


def read_toml(file: Path) -> dict[str, Any]:
    """A TOML file's contents, or a ConfigError naming the file and what is wrong with it."""
    try:
        return tomllib.loads(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(file, ["file not found"]) from None
    except IsADirectoryError:
        raise ConfigError(file, ["expected a TOML file, found a directory"]) from None
    except UnicodeDecodeError as exc:
        raise ConfigError(file, [f"expected UTF-8 text: {exc.reason} at byte {exc.start}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(file, [f"TOML syntax: {exc}"]) from None


def validation_problems(exc: ValidationError, raw: Mapping[str, Any]) -> list[str]:
    """One line per pydantic error, each naming the key path as written in TOML."""
    return [_describe(err, raw) for err in exc.errors()]


def settings_from_mapping(
    raw: Mapping[str, Any], *, source: Path | str = "<config>", environ: Mapping[str, str] | None = None
) -> Settings:
    env = {} if environ is None else environ
    try:
        settings = Settings.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(source, validation_problems(exc, raw)) from None
    problems = settings.reference_problems()
    if problems:
        raise ConfigError(source, problems)
    return _resolve(settings, Path(source).parent if source != "<config>" else Path.cwd(), env, source)


# The databases cchc-watch is built and tested on; any other URL would fail later, deep in a driver import.
SUPPORTED_DATABASES = ("sqlite:///", "postgresql+psycopg://")


def _check_database_url(url: str, from_env: bool, source: Path | str) -> None:
    if url.startswith(SUPPORTED_DATABASES):
        return
    key = f"${DATABASE_URL_ENV}" if from_env else "storage.database_url"
    scheme = url.partition("://")[0] or url[:20]
    hint = (
        " (write postgresql+psycopg://, the psycopg 3 driver)" if scheme in ("postgresql", "postgres") else ""
    )
    raise ConfigError(source, [f"{key}: {scheme!r} databases are not supported{hint}; use sqlite:///FILE or "
                               "postgresql+psycopg://USER@HOST/DATABASE"])  # fmt: skip


def _resolve(settings: Settings, base: Path, env: Mapping[str, str], source: Path | str) -> Settings:
    database_url = env.get(DATABASE_URL_ENV) or settings.storage.database_url
    _check_database_url(database_url, bool(env.get(DATABASE_URL_ENV)), source)
    prefix = "sqlite:///"
    if database_url.startswith(prefix) and not database_url.startswith(prefix + "/"):
        relative = database_url[len(prefix) :]
        if relative and relative != ":memory:":
            database_url = prefix + str((base / relative).resolve())
    storage = settings.storage.model_copy(
        update={
            "database_url": database_url,
            "blob_dir": (base / settings.storage.blob_dir).resolve(),
            "bundle_dir": (base / settings.storage.bundle_dir).resolve(),
            "journal_file": (
                (base / settings.storage.journal_file.expanduser()).resolve()
                if settings.storage.journal_file is not None
                else None
            ),
        }
    )
    collector = settings.collector.model_copy(
        update={
            "key_file": _key_file(settings.collector, base),
            "witness_file": (base / settings.collector.witness_file.expanduser()).resolve(),
        }
    )
    indicators = settings.indicators.model_copy(update={"file": (base / settings.indicators.file).resolve()})
    authorities = [
        a.model_copy(update={"certificates": (base / a.certificates).resolve()})
        for a in settings.timestamp.authority
    ]
    timestamp = settings.timestamp.model_copy(update={"authority": authorities})
    resolved = settings.model_copy(
        update={"storage": storage, "collector": collector, "indicators": indicators, "timestamp": timestamp}
    )
    resolved._source_file = str(source)
    return resolved


def _key_file(collector: CollectorSettings, base: Path) -> Path:
    if "key_file" in collector.model_fields_set:
        return (base / collector.key_file.expanduser()).resolve()
    legacy = (base / LEGACY_KEY_FILE).resolve()
    if not collector.key_file.exists() and legacy.exists():
        return legacy  # Settings.trust_warnings() says to move it
    return collector.key_file


def _describe(err: Mapping[str, Any], raw: Mapping[str, Any]) -> str:
    """One line for one pydantic error: the key path as written in TOML, then what was expected."""
    loc = tuple(err["loc"])
    path = _key_path(loc, raw)
    kind = err["type"]
    value = err.get("input")
    if kind == "missing":
        return f"{path}: required key is missing"
    if kind == "extra_forbidden":
        return f"{path}: unknown key"
    if kind == "value_error":
        message = str(err["msg"]).removeprefix("Value error, ")
        return f"{path}: {message}" if path else message
    if kind == "literal_error":
        expected = str(err.get("ctx", {}).get("expected", ""))
        return f"{path}: expected one of {expected}, got {value!r}"
    return f"{path}: {_expectation(kind, str(err['msg']))}, got {value!r}"


def _expectation(kind: str, message: str) -> str:
    words = {
        "int_parsing": "expected an integer",
        "int_type": "expected an integer",
        "float_parsing": "expected a number",
        "float_type": "expected a number",
        "bool_parsing": "expected true or false",
        "bool_type": "expected true or false",
        "string_type": "expected a string",
        "date_type": "expected a date like 2023-09-30",
        "date_parsing": "expected a date like 2023-09-30",
        "date_from_datetime_parsing": "expected a date like 2023-09-30",
        "list_type": "expected an array",
        "dict_type": "expected a table",
        "model_type": "expected a table",
    }
    return words.get(kind, "expected: " + message[0].lower() + message[1:])


def _key_path(loc: tuple[Any, ...], raw: Mapping[str, Any]) -> str:
    """('unit', 3, 'portal') → 'unit[phuong-1].portal' when the item has an id, else 'unit[3].portal'."""
    parts: list[str] = []
    node: Any = raw
    for key in loc:
        if isinstance(key, int):
            item = node[key] if isinstance(node, list) and key < len(node) else None
            ident = item.get("id") if isinstance(item, dict) else None
            parts[-1] += f"[{ident}]" if isinstance(ident, str) and ident else f"[{key}]"
            node = item
        else:
            parts.append(str(key))
            node = node.get(key) if isinstance(node, dict) else None
    return ".".join(parts)
