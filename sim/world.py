"""The simulated world: procedures, dossier statistics, 766 scores and news posts, generated from a seed.

Every draw comes from a random stream named after what it is for (unit, field, month …), so that adding
a unit or a month leaves every other number unchanged. All text is NFC.
"""

from __future__ import annotations

import hashlib
import math
import random
import re
import unicodedata
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sim import scores, vocab
from sim.spec import ONLINE_LEVELS, PortalSpec, UnitSpec, WorldSpec

VN_TZ = ZoneInfo("Asia/Ho_Chi_Minh")
CITY = "city"  # the agency key of the city one-stop desk in dossier statistics

# The seven parts of a published procedure (NĐ 63/2010 Điều 8 khoản 2), in the DVCQG spec's order.
ELEMENTS = ("ten", "trinh_tu", "cach_thuc", "thanh_phan_ho_so", "thoi_han", "doi_tuong", "co_quan_thuc_hien")


@dataclass(frozen=True)
class Field:
    id: int
    name: str
    level: str  # xa | huyen


@dataclass(frozen=True)
class ReferenceProcedure:
    """A procedure of the national database (Cơ sở dữ liệu quốc gia về TTHC) for one level."""

    id: str
    code: str
    name: str
    field_name: str
    level: str
    ministry: str
    qdcb_id: str


@dataclass(frozen=True)
class Procedure:
    """A procedure a unit lists on the province DVC portal."""

    id: int
    code: str
    name: str
    field_id: int
    field_name: str
    donvi_id: int
    level: str  # an ONLINE_LEVELS value
    elements: tuple[bool, ...]  # presence of each of ELEMENTS

    @property
    def complete(self) -> bool:
        return all(self.elements)


@dataclass(frozen=True)
class DossierMonth:
    """Dossier counts of one agency (ward unit id, or CITY) in one field and month."""

    agency: str
    field_name: str
    month: str
    received_direct: int
    received_post: int
    received_online: int
    synced: int
    processed_on_time: int
    processed_late: int
    returned_on_time: int
    returned_late: int
    paid_online_dvcqg: int
    paid_online_local: int
    pakn_on_time: int
    pakn_late: int
    # Still open at the month's end, within or past their deadline (766 §2.1 and §5.2 count them).
    pending_in_time: int
    pending_overdue: int
    pakn_pending_in_time: int
    pakn_pending_overdue: int

    @property
    def received(self) -> int:
        return self.received_direct + self.received_post + self.received_online


COUNT_FIELDS = (
    "received_direct",
    "received_post",
    "received_online",
    "synced",
    "processed_on_time",
    "processed_late",
    "returned_on_time",
    "returned_late",
    "paid_online_dvcqg",
    "paid_online_local",
    "pakn_on_time",
    "pakn_late",
    "pending_in_time",
    "pending_overdue",
    "pakn_pending_in_time",
    "pakn_pending_overdue",
)


@dataclass(frozen=True)
class NationalAgency:
    """A row of the national 766 report: a province, a department or a ward."""

    id: str
    name: str
    ma_coquan: str
    capdonvi: str  # "0" province, "1" sở/ngành, "2" xã/phường
    quality: float


@dataclass(frozen=True)
class Discrepancy:
    """A group score the simulated dashboard publishes that its own public counts do not support: planted on
    purpose, so that the reconciliation can be shown to find it. `computed` is what the counts give."""

    unit: str
    agency_id: str
    period: str  # a month
    group: str  # the dashboard's group field (CKMB, TDGQ, …)
    published: float
    computed: float
    kind: str  # shifted | above_possible | below_computed


@dataclass(frozen=True)
class NewsPost:
    portal: str
    id: int
    category: str
    title: str
    alias: str
    published: datetime  # local, aware
    edited: datetime  # local, aware; NukeViet shows max(edited, published) as datePublished
    views: int
    author: str
    hometext: str
    paragraphs: tuple[str, ...]
    image: str
    also: tuple[
        str, ...
    ] = ()  # other categories it is listed in (multi-category sites); `category` is its main one

    @property
    def path_tail(self) -> str:
        return f"{self.category}/{self.alias}-{self.id}.html"

    @property
    def categories(self) -> tuple[str, ...]:
        return (self.category, *self.also)


@dataclass(frozen=True)
class NewsEdit:
    """What an editor changed on a site between two crawls: a post hidden, re-dated, or added with an old date."""

    portal: str
    post_id: int
    kind: str  # removed | redated | backdated
    before: datetime | None  # the publication time before the edit (None: the post did not exist)
    after: datetime | None  # after it (None: no longer shown)


@dataclass
class World:
    spec: WorldSpec
    fields: dict[tuple[str, str], Field]  # by (level, name): a name can exist at both levels
    reference: dict[str, list[ReferenceProcedure]]  # by level
    procedures: dict[int, list[Procedure]]  # by DonViID
    dossiers: list[DossierMonth]
    provinces: list[NationalAgency]
    province_id: str
    province_agencies: list[NationalAgency]  # units of the simulated province on the 766 report
    posts: dict[str, list[NewsPost]]  # by portal id, newest first
    months: list[str]
    discrepancies: list[Discrepancy] = field(default_factory=list)
    news_edits: list[NewsEdit] = field(default_factory=list)  # what editors changed since the world was made
    _scores: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    _parts: dict[tuple[str, str], dict[str, float]] = field(default_factory=dict)
    _monthly: dict[tuple[str, str], DossierMonth] = field(default_factory=dict)

    def score(self, agency_id: str, period: str) -> dict[str, float]:
        """766 group scores of one agency for one period ('2023', '2023-H1', '2023-Q3', '2023-09').

        A ward of the simulated city is scored from its own dossiers and procedures (sim/scores.py), with
        the discrepancies planted for it; agencies outside the city have no dossiers here, so theirs are drawn.
        """
        key = (agency_id, period)
        if key not in self._scores:
            if agency_id in self.scored_wards():
                groups = scores.group_scores(self.parts(agency_id, period))
                planted = [d for d in self.discrepancies if (d.agency_id, d.period) == key]
                for d in planted:
                    groups[d.group] = d.published
                if planted:
                    groups["TONG"] = scores.half_up(sum(groups[g] for g in scores.GROUPS))
            else:
                groups = self._drawn_score(agency_id, period)
            self._scores[key] = groups
        return self._scores[key]

    def _drawn_score(self, agency_id: str, period: str) -> dict[str, float]:
        quality = next(
            (a.quality for a in [*self.provinces, *self.province_agencies] if a.id == agency_id), 0.7
        )
        rng = _rng(self.spec.seed, "score", agency_id, period)
        groups = {
            g: round(mx * min(1.0, max(0.0, quality + rng.uniform(-0.12, 0.08))), 2)
            for g, mx in scores.GROUP_MAX.items()
        }
        groups["TONG"] = round(sum(groups.values()), 2)
        return groups

    def scored_wards(self) -> dict[str, UnitSpec]:
        """The city's wards and communes the dashboard scores from their simulated data, by national id."""
        return {
            u.national_id: u
            for u in self.spec.units
            if u.kind in ("phuong", "xa") and u.national_id and u.ma_coquan and u.dvc_donvi_id is not None
        }

    def parts(self, agency_id: str, period: str) -> dict[str, float]:
        """A ward's points per indicator for a period, as the dashboard rounds them (before any discrepancy)."""
        key = (agency_id, period)
        if key not in self._parts:
            unit = self.scored_wards()[agency_id]
            rates = scores.public_rates(self.period_counts(unit.id, period), self.catalogue(unit))
            for part in scores.PARTS:
                if not part.public:
                    rates[part.id] = self._drawn_rate(agency_id, part, period)
            self._parts[key] = scores.part_points(rates)
        return self._parts[key]

    def _drawn_rate(self, agency_id: str, part: scores.Part, period: str) -> float:
        """A rate no public count shows: the province's own for a province-level indicator, else the ward's."""
        if part.level == "province":
            return _rng(self.spec.seed, "province-rate", part.id, period).uniform(0.7, 1.0)
        quality = _rng(self.spec.seed, "quality", self.scored_wards()[agency_id].id).uniform(0.5, 0.96)
        rng = _rng(self.spec.seed, "hidden-rate", agency_id, part.id, period)
        return min(1.0, max(0.0, quality + rng.uniform(-0.25, 0.1)))

    def period_counts(self, agency: str, period: str) -> scores.PeriodCounts:
        """One agency's dossier and feedback counts summed over a period's months."""
        if not self._monthly:
            for row in self.dossiers:
                summed = self._monthly.get((row.agency, row.month))
                self._monthly[(row.agency, row.month)] = row if summed is None else _added(summed, row)
        months = period_months(period, self.months)
        rows = [self._monthly[(agency, m)] for m in months if (agency, m) in self._monthly]
        year_before = [f"{int(period[:4]) - 1}-{m:02d}" for m in range(1, 13)]
        prior = (
            sum(self._monthly[(agency, m)].received for m in year_before if (agency, m) in self._monthly)
            if all(m in self.months for m in year_before)
            else None
        )
        total = {name: sum(getattr(r, name) for r in rows) for name in COUNT_FIELDS}
        return scores.PeriodCounts(
            months=len(months),
            received=sum(r.received for r in rows),
            synced=total["synced"],
            online=total["received_online"],
            on_time=total["processed_on_time"],
            late=total["processed_late"],
            pending_in_time=total["pending_in_time"],
            pending_overdue=total["pending_overdue"],
            pakn_on_time=total["pakn_on_time"],
            pakn_late=total["pakn_late"],
            pakn_pending_in_time=total["pakn_pending_in_time"],
            pakn_pending_overdue=total["pakn_pending_overdue"],
            prior_year_received=prior,
        )

    def catalogue(self, unit: UnitSpec) -> scores.Catalogue:
        """3.1's counts of a ward: its procedures offered online, each once, and every xã-level procedure."""
        listed = self.procedures.get(unit.dvc_donvi_id or -1, [])
        online = {p.code for p in listed if p.level in ("toan_trinh", "mot_phan")}
        return scores.Catalogue(len(online), len(self.reference["xa"]))

    def ranked(
        self, agencies: list[NationalAgency], period: str
    ) -> list[tuple[NationalAgency, dict[str, float]]]:
        """The 766 report's order: by total, best first (ROW_STT is the position in it)."""
        scored = [(a, self.score(a.id, period)) for a in agencies]
        scored.sort(key=lambda item: (-item[1]["TONG"], item[0].name))
        return scored

    def city_donvi_id(self) -> int:
        return self.spec.city.dvc_donvi_id


# ---------------------------------------------------------------------------------------------------------------


# The worlds made last in this process, by spec (faults aside): see world_for.
_MADE: OrderedDict[str, World] = OrderedDict()
_MADE_KEPT = 4


def world_for(spec: WorldSpec) -> World:
    """The world of `spec`, generated once per process for the last few specs (its draws take seconds, and the
    tests start about a hundred simulations of the same world). Faults live in the servers, not in the world,
    so they are no part of the key. Each caller gets a World of its own to change (edit_news replaces a
    portal's post list, its caches fill as it is asked); the records in it are frozen and shared."""
    key = repr(replace(spec, faults=()))
    made = _MADE.get(key)
    if made is None:
        made = generate_world(spec)
        _MADE[key] = made
        while len(_MADE) > _MADE_KEPT:
            _MADE.popitem(last=False)
    _MADE.move_to_end(key)
    return replace(
        made,
        spec=spec,
        posts=dict(made.posts),
        discrepancies=list(made.discrepancies),
        news_edits=list(made.news_edits),
        _scores={},
        _parts={},
        _monthly={},
    )


def generate_world(spec: WorldSpec) -> World:
    months = _months(spec.first_month, spec.as_of)
    fields = _fields(spec)
    reference = _reference_procedures(spec, fields)
    procedures = _unit_procedures(spec, fields, reference)
    dossiers = _dossiers(spec, months)
    provinces, province_id = _provinces(spec)
    agencies = _province_agencies(spec)
    posts = {p.id: _posts(spec, p) for p in spec.portals}
    world = World(
        spec=spec,
        fields=fields,
        reference=reference,
        procedures=procedures,
        dossiers=dossiers,
        provinces=provinces,
        province_id=province_id,
        province_agencies=agencies,
        posts=posts,
        months=months,
    )
    world.discrepancies = _plant_discrepancies(world, spec.i766_discrepancies)
    return world


def _rng(seed: int, *purpose: object) -> random.Random:
    digest = hashlib.sha256(":".join(map(str, (seed, *purpose))).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _stable_int(text: str, modulo: int) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:6], "big") % modulo


def _months(first: date, as_of: date) -> list[str]:
    out: list[str] = []
    y, m = first.year, first.month
    while (y, m) <= (as_of.year, as_of.month):
        out.append(f"{y:04d}-{m:02d}")
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    if mean > 40:  # normal approximation keeps large means fast
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def slugify(text: str, max_length: int = 70) -> str:
    """NukeViet-style alias: Vietnamese without diacritics, lower-case, words joined by '-'."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text).strip("-")
    return slug[:max_length].rstrip("-")


# --- procedures --------------------------------------------------------------------------------------------------


def _fields(spec: WorldSpec) -> dict[tuple[str, str], Field]:
    fields: dict[tuple[str, str], Field] = {}
    for name in vocab.WARD_FIELDS:
        fields[("xa", name)] = Field(id=100 + _stable_int("field:" + name, 9000), name=name, level="xa")
    for unit in spec.units:
        for name in unit.linh_vuc:
            fields[("huyen", name)] = Field(
                id=100 + _stable_int("field-huyen:" + name, 9000), name=name, level="huyen"
            )
    ids = [f.id for f in fields.values()]
    if len(ids) != len(set(ids)):
        raise AssertionError("field id collision; change the field id hash")
    return fields


def _procedure_names(field_name: str, count: int, rng: random.Random) -> list[str]:
    stock = list(vocab.WARD_FIELDS.get(field_name, ()))
    names = stock[:count]
    n = 0
    while len(names) < count:
        verb = vocab.PROCEDURE_VERBS[n % len(vocab.PROCEDURE_VERBS)]
        obj = vocab.PROCEDURE_OBJECTS[(n // len(vocab.PROCEDURE_VERBS)) % len(vocab.PROCEDURE_OBJECTS)]
        candidate = f"{verb} {obj} lĩnh vực {field_name.lower()}"
        if candidate not in names:
            names.append(candidate)
        n += 1
    rng.shuffle(names)
    return names


def _reference_procedures(
    spec: WorldSpec, fields: dict[tuple[str, str], Field]
) -> dict[str, list[ReferenceProcedure]]:
    reference: dict[str, list[ReferenceProcedure]] = {"xa": [], "huyen": []}
    used_codes: set[str] = set()
    for f in sorted(fields.values(), key=lambda f: f.id):
        rng = _rng(spec.seed, "reference", f.level, f.name)
        count = len(vocab.WARD_FIELDS[f.name]) if f.level == "xa" else rng.randint(4, 11)
        for name in _procedure_names(f.name, count, rng):
            code = f"{rng.choice('12')}.{rng.randint(0, 13999):06d}"
            while code in used_codes:
                code = f"{rng.choice('12')}.{rng.randint(0, 13999):06d}"
            used_codes.add(code)
            reference[f.level].append(
                ReferenceProcedure(
                    id=str(rng.randint(100000, 999999)),
                    code=code,
                    name=nfc(name),
                    field_name=f.name,
                    level=f.level,
                    ministry=vocab.FIELD_MINISTRY.get(f.name, "Bộ Nội vụ"),
                    qdcb_id=str(rng.randint(100000, 199999)),
                )
            )
    return reference


def _unit_procedures(
    spec: WorldSpec, fields: dict[tuple[str, str], Field], reference: dict[str, list[ReferenceProcedure]]
) -> dict[int, list[Procedure]]:
    next_id = 4000
    listed: dict[int, list[Procedure]] = {}
    city_fields = {name for u in spec.units for name in u.linh_vuc}
    plan: list[tuple[int, str, list[ReferenceProcedure]]] = [
        (spec.city.dvc_donvi_id, CITY, [r for r in reference["huyen"] if r.field_name in city_fields])
    ]
    for unit in spec.units:
        if unit.kind in ("phuong", "xa") and unit.dvc_donvi_id is not None:
            plan.append((unit.dvc_donvi_id, unit.id, reference["xa"]))
    for donvi_id, key, refs in plan:
        rng = _rng(spec.seed, "procedures", key)
        full_online = rng.uniform(0.25, 0.8)
        missing = set(rng.sample(range(len(refs)), k=min(len(refs), rng.randint(0, 6))))
        rows: list[Procedure] = []
        for i, ref in enumerate(refs):
            if i in missing:
                continue
            draw = rng.random()
            level = (
                "toan_trinh"
                if draw < full_online
                else ("mot_phan" if draw < full_online + (1 - full_online) * 0.8 else "cung_cap_thong_tin")
            )
            elements = tuple(rng.random() > 0.015 for _ in ELEMENTS)
            f = fields[(ref.level, ref.field_name)]
            rows.append(Procedure(next_id, ref.code, ref.name, f.id, f.name, donvi_id, level, elements))
            next_id += 1
        listed[donvi_id] = rows
    assert set(ONLINE_LEVELS) >= {p.level for rows in listed.values() for p in rows}
    return listed


# --- dossiers ----------------------------------------------------------------------------------------------------


def _month_fraction(month: str, as_of: date) -> float:
    """The share of a month inside the data window (the as-of month may be partial)."""
    y, m = map(int, month.split("-"))
    if (y, m) != (as_of.year, as_of.month):
        return 1.0
    days = (date(y + (m == 12), m % 12 + 1, 1) - date(y, m, 1)).days
    return as_of.day / days


def _dossiers(spec: WorldSpec, months: list[str]) -> list[DossierMonth]:
    agencies: list[tuple[str, list[str]]] = [(CITY, sorted({n for u in spec.units for n in u.linh_vuc}))]
    for unit in spec.units:
        if unit.kind in ("phuong", "xa") and unit.dvc_donvi_id is not None:
            agencies.append((unit.id, list(vocab.WARD_FIELDS)))
    rows: list[DossierMonth] = []
    for agency, field_names in agencies:
        profile = _rng(spec.seed, "dossier-profile", agency)
        online_share = profile.uniform(0.35, 0.98) if agency != CITY else profile.uniform(0.2, 0.7)
        on_time_share = profile.uniform(0.9, 1.0)
        sync_share = profile.uniform(0.85, 1.0)
        size = profile.uniform(0.4, 1.6)
        for name in field_names:
            base = vocab.FIELD_VOLUME.get(name, 4) * size * (1.4 if agency == CITY else 1.0)
            for month in months:
                rng = _rng(spec.seed, "dossiers", agency, name, month)
                received = _poisson(rng, base * _month_fraction(month, spec.as_of))
                online = sum(rng.random() < online_share for _ in range(received))
                post = sum(rng.random() < 0.01 for _ in range(received - online))
                processed = (
                    received if received == 0 else max(0, received - rng.randint(0, max(1, received // 20)))
                )
                on_time = sum(rng.random() < on_time_share for _ in range(processed))
                returned_on_time = on_time - (rng.randint(0, min(2, on_time)) if on_time else 0)
                returned_late = processed - on_time
                fee = name in vocab.FEE_FIELDS
                paid_dvcqg = sum(rng.random() < 0.12 for _ in range(online)) if fee else 0
                paid_local = sum(rng.random() < 0.08 for _ in range(online)) if fee else 0
                pakn = _poisson(rng, 0.15)
                pakn_late = sum(rng.random() < 0.2 for _ in range(pakn))
                # Drawn last, so that every figure drawn before keeps its value.
                pending_overdue = sum(rng.random() < 0.3 for _ in range(received - processed))
                pakn_pending = _poisson(rng, 0.05)
                pakn_pending_overdue = sum(rng.random() < 0.3 for _ in range(pakn_pending))
                rows.append(
                    DossierMonth(
                        agency=agency,
                        field_name=name,
                        month=month,
                        received_direct=received - online - post,
                        received_post=post,
                        received_online=online,
                        synced=sum(rng.random() < sync_share for _ in range(received)),
                        processed_on_time=on_time,
                        processed_late=processed - on_time,
                        returned_on_time=returned_on_time,
                        returned_late=returned_late,
                        paid_online_dvcqg=paid_dvcqg,
                        paid_online_local=paid_local,
                        pakn_on_time=pakn - pakn_late,
                        pakn_late=pakn_late,
                        pending_in_time=received - processed - pending_overdue,
                        pending_overdue=pending_overdue,
                        pakn_pending_in_time=pakn_pending - pakn_pending_overdue,
                        pakn_pending_overdue=pakn_pending_overdue,
                    )
                )
    return rows


def period_months(period: str, months: list[str]) -> list[str]:
    """The months of a 766 period ('2023', '2023-H1', '2023-Q3', '2023-09') inside the data window."""
    year, rest = period[:4], period[4:]
    if rest.startswith("-Q"):
        wanted = range(3 * int(rest[2:]) - 2, 3 * int(rest[2:]) + 1)
    elif rest.startswith("-H"):
        wanted = range(6 * int(rest[2:]) - 5, 6 * int(rest[2:]) + 1)
    elif rest.startswith("-"):
        wanted = range(int(rest[1:]), int(rest[1:]) + 1)
    else:
        wanted = range(1, 13)
    return [m for m in (f"{year}-{n:02d}" for n in wanted) if m in months]


def _added(a: DossierMonth, b: DossierMonth) -> DossierMonth:
    return DossierMonth(a.agency, "*", a.month, *(getattr(a, n) + getattr(b, n) for n in COUNT_FIELDS))


_PLANTS = ("shifted", "above_possible", "below_computed")


def _plant_discrepancies(world: World, count: int) -> list[Discrepancy]:
    """Deliberate errors of the simulated dashboard, each one the reconciliation can prove from public counts:
    TDGQ moved by 2.5 points (2.1 is its only indicator); MDHL above what 5.2 leaves possible; CKMB below
    what 1.4 alone gives."""
    rng = _rng(world.spec.seed, "discrepancies")
    candidates = [(agency, month) for agency in sorted(world.scored_wards()) for month in world.months]
    rng.shuffle(candidates)
    planted: list[Discrepancy] = []
    used: set[tuple[str, str]] = set()
    for n in range(count):
        kind = _PLANTS[n % len(_PLANTS)]
        for agency, month in candidates:
            if (agency, month) in used:
                continue
            parts = world.parts(agency, month)
            groups = scores.group_scores(parts)
            if kind == "shifted":
                group = "TDGQ"
                computed = groups[group]
                published = computed - 2.5 if computed >= 2.5 else computed + 2.5
            elif kind == "above_possible" and parts["I766_5_2"] <= 4.5:
                group = "MDHL"
                computed = groups[group]
                published = scores.half_up(parts["I766_5_2"] + 12 + 1.5)  # 5.3 and 5.4 give at most 12
            elif kind == "below_computed" and parts["I766_1_4"] >= 3.0:
                group = "CKMB"
                computed = groups[group]
                published = scores.half_up(parts["I766_1_4"] - 2.5)  # 1.4 alone is more
            else:
                continue
            unit = world.scored_wards()[agency].id
            planted.append(Discrepancy(unit, agency, month, group, scores.half_up(published), computed, kind))
            used.add((agency, month))
            break
    return planted


# --- national agencies --------------------------------------------------------------------------------------------


def _provinces(spec: WorldSpec) -> tuple[list[NationalAgency], str]:
    rng = _rng(spec.seed, "provinces")
    ids = rng.sample(range(10000, 999999), k=len(vocab.PROVINCES))
    provinces: list[NationalAgency] = []
    province_id = ""
    for n, (name, pid) in enumerate(zip(vocab.PROVINCES, ids, strict=True)):
        prefix = "Thành phố" if name in vocab.CENTRAL_CITIES else "Tỉnh"
        agency = NationalAgency(
            id=str(pid),
            name=nfc(f"{prefix} {name}"),
            ma_coquan=f"000.00.00.{chr(65 + n // 26)}{n % 26 + 1:02d}",
            capdonvi="0",
            quality=rng.uniform(0.6, 0.92),
        )
        provinces.append(agency)
        if nfc(name) == nfc(spec.province_name):
            province_id = agency.id
    if not province_id:
        raise ValueError(f"province {spec.province_name!r} is not one of the 63 provinces of 2023")
    return provinces, province_id


def _province_agencies(spec: WorldSpec) -> list[NationalAgency]:
    rng = _rng(spec.seed, "province-agencies")
    agencies = [
        NationalAgency(f"{1000 + i:07d}", name, f"000.00.{i + 1:02d}.H53", "1", rng.uniform(0.6, 0.95))
        for i, name in enumerate(vocab.PROVINCE_DEPARTMENTS)
    ]
    agencies.append(
        NationalAgency(
            spec.city.national_id,
            spec.city.national_name or spec.city.name,
            spec.city.ma_coquan,
            "3",
            rng.uniform(0.6, 0.95),
        )
    )
    for unit in spec.units:
        if unit.national_id and unit.ma_coquan:
            quality = _rng(spec.seed, "quality", unit.id).uniform(0.5, 0.96)
            name = unit.national_name or unit.name
            agencies.append(NationalAgency(unit.national_id, name, unit.ma_coquan, "2", quality))
    for i, name in enumerate(vocab.OTHER_COMMUNES):
        agencies.append(
            NationalAgency(f"{2000 + i:07d}", name, f"000.{i + 1:02d}.30.H53", "2", rng.uniform(0.5, 0.95))
        )
    # The province's other districts, at the city's level ("3" is our guess: portals.md knows "1" and "2"), so
    # that the city's rank among districts can be read off the report. Their own streams: nothing else moves.
    for i, name in enumerate(vocab.OTHER_DISTRICTS):
        quality = _rng(spec.seed, "quality", "district", name).uniform(0.6, 0.95)
        agencies.append(NationalAgency(f"{3000 + i:07d}", name, f"000.00.{30 + i}.H53", "3", quality))
    return agencies


# --- news ----------------------------------------------------------------------------------------------------------


def _short_name(name: str) -> str:
    return name.removeprefix("UBND ").strip()


def _category_plan(spec: WorldSpec, portal: PortalSpec) -> dict[str, tuple[float, float, str]]:
    """Per category: mean posts a month, share of reform-themed posts, and the name used in titles."""
    rng = _rng(spec.seed, "category-plan", portal.id)
    owners = {c: u for u in spec.units if u.portal == portal.id for c in u.news_categories}
    portal_unit = next((u for u in spec.units if u.portal == portal.id and not u.news_categories), None)
    label = _short_name(portal_unit.name) if portal_unit else "thành phố"
    plan: dict[str, tuple[float, float, str]] = {}
    for category in portal.categories:
        if category in portal.cchc_categories:
            plan[category] = (rng.uniform(0.8, 3.5), 1.0, label)
        elif category in owners:
            owner = owners[category]
            reform_share = 0.5 if "noi-vu" in owner.id else 0.15
            plan[category] = (rng.choice((0.3, 1.0, 2.5, 4.0, 6.0)), reform_share, owner.name)
        elif category == "tin-tuc-su-kien":
            plan[category] = (rng.uniform(4.0, 12.0), 0.0, label)
        else:
            plan[category] = (rng.uniform(0.5, 4.0), 0.0, label)
    return plan


def _posts(spec: WorldSpec, portal: PortalSpec) -> list[NewsPost]:
    start = max(spec.first_month, portal.valid_from)
    end = spec.as_of if portal.valid_to is None else min(spec.as_of, portal.valid_to)
    drafts: list[tuple[datetime, datetime, str, str, random.Random]] = []
    for category, (rate, reform_share, label) in _category_plan(spec, portal).items():
        if category in portal.site.empty_categories:
            continue
        is_department = label.startswith(("Phòng", "Văn phòng", "Thanh tra"))
        for month in _months(start, end) if start <= end else []:
            rng = _rng(spec.seed, "posts", portal.id, category, month)
            y, m = map(int, month.split("-"))
            for _ in range(_poisson(rng, rate * _month_fraction(month, end))):
                published = _publication_time(rng, y, m, end)
                edited = published
                if rng.random() < 0.3:
                    edited = min(published + timedelta(hours=rng.uniform(1, 240)), _end_of(end))
                reform = rng.random() < reform_share
                stock = (
                    vocab.CCHC_TITLES
                    if reform
                    else (vocab.DEPARTMENT_TITLES if is_department else vocab.GENERAL_TITLES)
                )
                title = nfc(
                    rng.choice(stock).format(
                        unit=label,
                        year=y,
                        year_before=y - 1,
                        month=m,
                        quarter=(m - 1) // 3 + 1,
                        number=rng.randint(10, 250),
                        block=rng.randint(1, 8),
                    )
                )
                title = title[0].upper() + title[1:]
                drafts.append((published, edited, category, title, rng))
    drafts.sort(key=lambda d: (d[0], d[2], d[3]))
    first_id = 1000 + _stable_int("first-id:" + portal.id, 4000)
    posts = [
        _post(portal, first_id + n, published, edited, category, title, rng)
        for n, (published, edited, category, title, rng) in enumerate(drafts)
    ]
    if portal.site.multi_category:
        posts = _in_second_categories(spec, portal, posts)
    posts.reverse()
    return posts


def _in_second_categories(spec: WorldSpec, portal: PortalSpec, posts: list[NewsPost]) -> list[NewsPost]:
    """About one post in eight is also listed in another category (NukeViet's listcatid)."""
    rng = _rng(spec.seed, "second-categories", portal.id)
    others = [c for c in portal.categories if c not in portal.site.empty_categories]
    if len(others) < 2:
        return posts
    out = []
    for post in posts:
        if rng.random() < 0.125:
            second = rng.choice([c for c in others if c != post.category])
            post = replace(post, also=(second,))
        out.append(post)
    return out


def edit_news(world: World) -> list[NewsEdit]:
    """Between two crawls, on each site whose settings say so, editors remove a post, re-date one into the
    previous month and add one backdated by a month (a new id with an old date). world.posts follows."""
    edits: list[NewsEdit] = []
    for portal in world.spec.portals:
        posts = world.posts.get(portal.id, [])
        if not portal.site.edits or len(posts) < 10:
            continue
        rng = _rng(world.spec.seed, "edits", portal.id, len(posts))
        removed, redated = rng.sample(posts[2:40], 2)
        moved_to = redated.published - timedelta(days=31)
        kept = [p for p in posts if p.id not in (removed.id, redated.id)]
        kept.append(replace(redated, published=moved_to, edited=max(redated.edited, moved_to)))
        template = posts[rng.randint(0, 9)]
        backdated_to = template.published - timedelta(days=33)
        new_id = max(p.id for p in posts) + 1
        kept.append(replace(template, id=new_id, published=backdated_to, edited=backdated_to, views=13,
                            alias=template.alias[:60] + "-bo-sung", title=template.title + " (bổ sung)"))  # fmt: skip
        kept.sort(key=lambda p: (p.published, p.id), reverse=True)
        world.posts[portal.id] = kept
        edits += [
            NewsEdit(portal.id, removed.id, "removed", removed.published, None),
            NewsEdit(portal.id, redated.id, "redated", redated.published, moved_to),
            NewsEdit(portal.id, new_id, "backdated", None, backdated_to),
        ]
    world.news_edits += edits
    return edits


def _end_of(day: date) -> datetime:
    return datetime.combine(day, time(23, 59), VN_TZ)


def _publication_time(rng: random.Random, year: int, month: int, end: date) -> datetime:
    last_day = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    if (year, month) == (end.year, end.month):
        last_day = end.day
    draw = rng.random()
    second = rng.randint(0, 59)
    if draw < 0.05:  # just after midnight on the 1st: the RSS feed's UTC date falls in the previous month
        return datetime(year, month, 1, 0, rng.randint(0, 59), second, tzinfo=VN_TZ)
    if draw < 0.08:  # late on the last day of the month
        return datetime(year, month, last_day, 23, rng.randint(0, 58), second, tzinfo=VN_TZ)
    day, hour = rng.randint(1, last_day), rng.randint(7, 20)
    return datetime(year, month, day, hour, rng.randint(0, 59), second, tzinfo=VN_TZ)


def _post(
    portal: PortalSpec,
    post_id: int,
    published: datetime,
    edited: datetime,
    category: str,
    title: str,
    rng: random.Random,
) -> NewsPost:
    given = rng.choice(vocab.GIVEN_NAMES)
    author = rng.choice(
        (
            f"{rng.choice(vocab.SURNAMES)} {rng.choice(vocab.MIDDLE_NAMES)} {given}",
            rng.choice(vocab.AUTHORS_SUFFIX),
        )
    )
    lead = nfc(f"{title}. Thông tin do {author} thực hiện ngày {published:%d/%m/%Y}.")
    paragraphs = (
        nfc(f"Sáng ngày {published:%d/%m/%Y}, {title[0].lower() + title[1:]}."),
        nfc("Tham dự có đại diện lãnh đạo địa phương, các ban, ngành, đoàn thể và đông đảo người dân."),
        nfc("Qua đó góp phần thực hiện thắng lợi nhiệm vụ chính trị của địa phương trong năm."),
    )
    alias = slugify(title)
    return NewsPost(
        portal=portal.id,
        id=post_id,
        category=category,
        title=title,
        alias=alias,
        published=published,
        edited=edited,
        views=int(rng.lognormvariate(5.5, 1.0)) + 12,
        author=author,
        hometext=lead,
        paragraphs=paragraphs,
        image=f"/uploads/news/{published:%Y_%m}/{alias[:24]}.jpg",
    )


def unit_short_name(unit: UnitSpec) -> str:
    return _short_name(unit.name)
