"""The pre-visit summary as plain data: a cover, then the plan's Đề cương sections, each with what the tool
found, what the unit must provide, and the evidence (observation and snapshot ids) behind every figure.

    Summary
     ├── Cover                     unit, period, visit, due date, rule set, totals, LedgerState
     ├── BundleFacts               the unit's evidence bundle (WACZ) for the period, when one was made
     └── Section × 11              I.1, 2.1 … 2.7, 3, II, III (the Đề cương, in order)
          ├── IndicatorLine        a row of the indicator table (figures against targets)
          ├── Fact                 a raw figure pre-filled from the observations (with PostLink details)
          ├── FactTable            a small table of pre-filled figures
          ├── Chart                a PNG data URI
          ├── ProvidedItem         "Do đơn vị cung cấp"
          ├── Finding              a strength, a red flag or a suggestion (II, III)
          ├── SnapshotRef          a capture the section cites: time, URL, SHA-256
          └── Screenshot           a thumbnail of a browser capture
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, datetime

PROVIDED_TEXT = "Do đơn vị cung cấp"
NOT_GRADED_TEXT = (
    "Chưa đủ dữ liệu"  # a total whose coverage is below rule_set.min_coverage: no grade, no rank
)
NOT_AVAILABLE = "N/A"


@dataclass(frozen=True)
class LedgerState:
    """The evidence ledger when the summary was made: its head and what `evidence.verify.verify` found."""

    head_seq: int
    head_hash: str
    snapshots: int
    checkpoints: int
    unsigned_after_last_checkpoint: int
    problems: int
    first_problems: tuple[str, ...]
    verified_at: datetime

    @property
    def clean(self) -> bool:
        return self.problems == 0


@dataclass(frozen=True)
class TotalLine:
    """A total of the unit: TOTAL_766, the index the dashboard publishes (banded and ranked as published);
    CHECK_766, the points our evidence earns of those it can compute (never banded, ranked or out of 100);
    TOTAL_PAR, the web-evidence PAR index. `display_index` is how each must read."""

    indicator: str
    name_vi: str
    status: str
    index: float | None
    band: str | None
    rank: int | None
    ranked_units: int
    coverage: float | None
    flag: bool
    reason: str
    reason_vi: str
    reported_value: float | None
    display_index: str
    published_rank: int | None = None  # the unit's place in the province's report on the dashboard

    @property
    def grade_vi(self) -> str:
        """The grade, or why there is none: below the coverage floor, "chưa đủ dữ liệu"."""
        if self.band:
            return self.band
        return NOT_GRADED_TEXT if self.reason.startswith("not graded") else "—"


@dataclass(frozen=True)
class Cover:
    unit_id: str
    unit_name: str
    unit_kind: str  # phong | phuong | xa
    unit_kind_vi: str
    tier: str  # phong | phuong_xa
    tier_vi: str
    inspection_title: str
    plan: str
    plan_date: date
    period_key: str
    period_label: str
    period_start: date
    period_end: date
    visit: date | None
    due: date | None
    report_days_before: int
    rule_set: str
    rule_set_valid: str
    made_at: datetime
    ledger: LedgerState
    totals: tuple[TotalLine, ...]


@dataclass
class IndicatorLine:
    """One indicator of the unit for the period, exactly as the indicator table computed it."""

    indicator: str
    name_vi: str
    family: str
    group: str
    section: str
    scoring: str
    numerator: float | None
    denominator: float | None
    rate: float | None
    points: float | None
    max_points: float
    threshold: float | None
    target_text: str  # how it is scored: 'đạt điểm tối đa khi ≥ 80%; cảnh báo khi < 98%'
    goal_text: str  # what a red flag falls short of: '≥ 98%', '≥ 4 tin, bài/tháng'
    status: str  # ok | na | missing | reported | provided_by_unit
    status_vi: str
    reason: str
    reason_vi: str
    flag: bool
    reported_value: float | None
    rank: int | None
    confidence: str
    display_result: str  # numerator/denominator or the count
    display_rate: str
    display_points: str  # "1,39 / 1,5", "N/A", "Do đơn vị cung cấp"
    observation_ids: list[int] = field(default_factory=list)
    snapshot_ids: list[int] = field(default_factory=list)

    @property
    def full_points(self) -> bool:
        return self.status == "ok" and self.points is not None and self.points >= self.max_points > 0


@dataclass(frozen=True)
class PostLink:
    """A news post the crawl saw: its title, date and URL, and the observation and snapshot that show it."""

    title: str
    url: str
    published: str  # ISO date-time as the portal showed it
    reform: bool
    observation_id: int
    snapshot_id: int


@dataclass
class Fact:
    """A raw figure pre-filled from the observations: a count, a rate, a site's state, a list of codes."""

    label: str
    value: float | None
    display: str
    status: str  # ok | na | missing
    reason_vi: str = ""
    details: list[str] = field(default_factory=list)
    posts: list[PostLink] = field(default_factory=list)
    observation_ids: list[int] = field(default_factory=list)
    snapshot_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Chart:
    title: str
    data_uri: str  # data:image/png;base64,…
    description: str
    # The monthly figures drawn, for a native chart in the XLSX: months (YYYY-MM), then per series its name and
    # values (None: no evidence); `unit` names the axis ("%", "tin, bài"), `target` is in the axis' unit.
    months: tuple[str, ...] = ()
    series: tuple[tuple[str, tuple[float | None, ...]], ...] = ()
    unit: str = ""
    target: float | None = None
    kind: str = "line"  # line | bar


@dataclass(frozen=True)
class FactTable:
    """A small table of pre-filled figures (posts per month, scores per group); cells are display text."""

    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class ProvidedItem:
    """Something no public page shows: the unit provides it ("Do đơn vị cung cấp"), never blank, never zero."""

    text: str
    prefilled: str = ""  # what the tool can already say beside it (the late-dossier count for the slips)
    status_text: str = PROVIDED_TEXT


@dataclass
class Finding:
    """A draft strength, red flag or suggestion, with what it rests on."""

    kind: str  # strength | red_flag | suggestion
    text: str
    source_section: str
    indicator: str | None = None
    observation_ids: list[int] = field(default_factory=list)
    snapshot_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class SnapshotRef:
    id: int
    seq: int
    captured_at: datetime  # in the inspection's time zone (Asia/Ho_Chi_Minh)
    url: str
    label: str
    probe: str
    render: str
    outcome: str
    status_code: int | None
    sha256: str | None  # of the response body (a browser capture: its DOM)
    sha256_role: str
    record_hash: str


@dataclass(frozen=True)
class Screenshot:
    snapshot_id: int
    url: str
    label: str
    captured_at: datetime
    sha256: str  # of the full-size screenshot blob
    data_uri: str  # the downscaled thumbnail
    width: int
    height: int


@dataclass
class Section:
    key: str  # I.1, 2.1 … 2.7, 3, II, III
    title: str
    heading: str  # the numbering as the Đề cương prints it
    intro: str = ""
    indicators: list[IndicatorLine] = field(default_factory=list)
    facts: list[Fact] = field(default_factory=list)
    tables: list[FactTable] = field(default_factory=list)
    charts: list[Chart] = field(default_factory=list)
    provided: list[ProvidedItem] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    snapshots: list[SnapshotRef] = field(default_factory=list)
    screenshots: list[Screenshot] = field(default_factory=list)

    def observation_ids(self) -> set[int]:
        ids = {i for line in self.indicators for i in line.observation_ids}
        ids |= {i for fact in self.facts for i in fact.observation_ids}
        ids |= {p.observation_id for fact in self.facts for p in fact.posts}
        ids |= {i for finding in self.findings for i in finding.observation_ids}
        return ids

    def snapshot_ids(self) -> set[int]:
        ids = {i for line in self.indicators for i in line.snapshot_ids}
        ids |= {i for fact in self.facts for i in fact.snapshot_ids}
        ids |= {p.snapshot_id for fact in self.facts for p in fact.posts}
        ids |= {i for finding in self.findings for i in finding.snapshot_ids}
        ids |= {s.snapshot_id for s in self.screenshots}
        return ids

    def strengths(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "strength"]

    def red_flags(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "red_flag"]

    def suggestions(self) -> list[Finding]:
        return [f for f in self.findings if f.kind == "suggestion"]


@dataclass(frozen=True)
class BundleFacts:
    """The unit's evidence bundle, as the summary's appendix cites it: which file, its digest, who vouches."""

    file_name: str
    digest: str  # sha256:… of its datapackage.json
    created: datetime | None  # in the inspection's time zone, as the bundle says
    collector_key: str  # hex Ed25519
    timestamps: tuple[tuple[str, datetime], ...]  # (authority, the time its token attests), local time
    snapshots: int


@dataclass
class Summary:
    cover: Cover
    sections: list[Section]
    bundle: BundleFacts | None = None
    # Every cited snapshot by id, and the snapshot each cited observation was read from (the sources sheet).
    snapshot_index: dict[int, SnapshotRef] = field(default_factory=dict)
    observation_snapshot: dict[int, int] = field(default_factory=dict)

    def section(self, key: str) -> Section:
        for section in self.sections:
            if section.key == key:
                return section
        raise KeyError(key)

    def indicator_lines(self) -> Iterator[IndicatorLine]:
        for section in self.sections:
            yield from section.indicators

    def cited_observation_ids(self) -> set[int]:
        return {i for s in self.sections for i in s.observation_ids()}

    def cited_snapshot_ids(self) -> set[int]:
        return {i for s in self.sections for i in s.snapshot_ids()} | {
            ref.id for s in self.sections for ref in s.snapshots
        }

    @property
    def file_stem(self) -> str:
        return (
            f"{self.cover.unit_id}-{self.cover.visit.isoformat()}" if self.cover.visit else self.cover.unit_id
        )
