"""The unit's sites as the availability probe last saw them (up, moved, gone, how fast, over what TLS), and
the browser screenshots that show the unit: its own captures, or shared pages about it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd

from cchc.settings import Settings, Unit
from reports import sources
from reports import vi as fmt
from reports.inputs import SummaryInputs
from reports.model import NOT_AVAILABLE, Fact, Screenshot

MAX_SCREENSHOTS = 4


@dataclass
class SiteState:
    site: str
    name: str
    own: bool  # the unit's own portal (a phòng's: the city portal it posts on)
    fact: Fact
    problem: str  # "" when the site answers at its own address


def site_states(inputs: SummaryInputs, unit: Unit) -> list[SiteState]:
    """The unit's portal, then the shared public-service sites, each as last checked over HTTP."""
    settings = inputs.settings
    portal = settings.portal_by_id(unit.portal)
    src = settings.sources
    wanted = [
        (unit.portal, portal.name, portal.base_url, True),
        ("dvc_tinh", src.dvc_tinh.name, src.dvc_tinh.base_url, False),
        ("motcua", src.motcua.name, src.motcua.base_url, False),
        ("dvc_quocgia", src.dvc_quocgia.name, src.dvc_quocgia.base_url, False),
    ]
    frame = inputs.availability
    site_of = frame["attributes"].map(lambda a: a.get("site") if isinstance(a, dict) else None)
    render_of = frame["attributes"].map(lambda a: a.get("render") if isinstance(a, dict) else None)
    states = []
    for site, name, base_url, own in wanted:
        label = f"{name} ({base_url})"
        checks = frame[(frame["metric"] == "site_up") & (site_of == site) & (render_of == "http")]
        if checks.empty:
            why = "Chưa có lần kiểm tra truy cập nào (probe availability)"
            fact = Fact(label=label, value=None, display=NOT_AVAILABLE, status="missing", reason_vi=why)
            states.append(SiteState(site, name, own, fact, "chưa được kiểm tra"))
            continue
        states.append(_state(inputs, site, name, label, own, checks.sort_values("seq").iloc[-1]))
    return states


def _state(
    inputs: SummaryInputs, site: str, name: str, label: str, own: bool, latest: pd.Series
) -> SiteState:
    frame = inputs.availability
    same = frame[frame["snapshot_id"] == latest["snapshot_id"]]
    moved = same[same["metric"] == "site_moved"]
    gone = same[same["metric"] == "site_gone"]
    speed = same[same["metric"] == "site_response_ms"]
    attributes = latest["attributes"] if isinstance(latest["attributes"], dict) else {}
    captured = pd.Timestamp(latest["fetched_at"]).to_pydatetime().astimezone(inputs.tz)
    details = [f"Kiểm tra lúc {fmt.moment(captured)}"]
    tls = attributes.get("tls")
    if isinstance(tls, dict) and tls:
        details.append("TLS: " + ", ".join(f"{k} {v}" for k, v in sorted(tls.items()) if v))
    elif str(attributes.get("final_url") or "").startswith("http://"):
        details.append("Không dùng HTTPS (TLS)")
    problem = ""
    if len(gone):
        problem = f"không truy cập được ({gone.iloc[-1]['text']})"
        display = f"Không truy cập được: {gone.iloc[-1]['text']}"
    elif len(moved):
        problem = f"đã chuyển sang {moved.iloc[-1]['text']}"
        display = f"Đã chuyển sang {moved.iloc[-1]['text']}"
    elif float(latest["value"]) >= 1:
        display = "Hoạt động"
        if len(speed):
            display += f", phản hồi {fmt.number(float(speed.iloc[-1]['value']))} ms"
    else:
        status = attributes.get("status")
        problem = f"lỗi {attributes.get('outcome')}" + (f" (HTTP {status})" if status else "")
        display = f"Không hoạt động bình thường: {attributes.get('outcome')}" + (
            f", HTTP {status}" if status else ""
        )
    fact = Fact(
        label=label,
        value=float(latest["value"]),
        display=display,
        status="ok",
        details=details,
        observation_ids=sorted({int(i) for i in same["id"]}),
        snapshot_ids=[int(latest["snapshot_id"])],
    )
    return SiteState(site, name, own, fact, problem)


def screenshots(inputs: SummaryInputs, unit: Unit, probes: Sequence[str]) -> list[Screenshot]:
    """Thumbnails of the newest browser captures (one per target) of these probes that show the unit."""
    chosen = [
        c
        for c in sources.latest_per_target(inputs.captures)
        if c.probe in probes and shows_unit(c, unit, inputs.settings)
    ]
    shots = []
    for capture in chosen[:MAX_SCREENSHOTS]:
        shot = sources.thumbnail(inputs.blobs, capture, inputs.tz)
        if shot is not None:
            shots.append(shot)
    return shots


def shows_unit(capture: sources.BrowserCapture, unit: Unit, settings: Settings) -> bool:
    """A capture of the unit's own, or of a shared page about it (its portal's home, its procedure list, the
    766 dashboard that scores wards)."""
    if capture.unit is not None:
        return capture.unit == unit.id
    if capture.probe == "availability":
        return capture.label.split(" ")[0] == unit.portal
    if capture.probe == "procedures":
        if unit.kind == "phong" and not unit.dvc_linh_vuc:
            return False
        # A phòng's procedures are the city's list (the city's DonViID), in its fields.
        donvi = settings.city.dvc_donvi_id if unit.kind == "phong" else unit.dvc_donvi_id
        return f" {donvi} " in f" {capture.label} "
    if capture.probe == "service_stats":
        return unit.kind != "phong"
    return False
