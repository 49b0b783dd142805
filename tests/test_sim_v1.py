"""The simulated national portal serves api/v1/reporting as the real portal does (shared/real/dvcqg-v1).

The schema of each real answer (its keys, the JSON types of each value, the nesting; a key is required where every
real instance has it) is derived from the real file, and the simulation's answers are held to it: over real HTTP
on loopback. Its scores are the world's, and the dashboard's formulas (rule set dvcqg-v1) recompute them from its
counts, as they do on the real files.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import loopback
import pytest
from real_v1 import Capture, captures, needs_real

from indicators.definitions import load_definitions
from indicators.reconcile import reconcile_report
from probes._base import SnapshotView
from probes.national_v1 import read_report
from sim import Simulation
from sim.sites.national_v1 import root_id

DEFINITIONS = load_definitions(Path(__file__).resolve().parent.parent / "indicators.toml")


@dataclass
class Schema:
    """What the real instances at one place of an answer were: their JSON types, keys and elements."""

    types: set[str] = field(default_factory=set)
    keys: dict[str, Schema] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    items: Schema | None = None


def json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def derive(instances: list[Any]) -> Schema:
    schema = Schema(types={json_type(v) for v in instances})
    objects = [v for v in instances if isinstance(v, dict)]
    if objects:
        names = {k for o in objects for k in o}
        schema.keys = {k: derive([o[k] for o in objects if k in o]) for k in sorted(names)}
        schema.required = {k for k in names if all(k in o for o in objects)}
    elements = [x for v in instances if isinstance(v, list) for x in v]
    if elements:
        schema.items = derive(elements)
    return schema


def problems(value: Any, schema: Schema, path: str = "$") -> list[str]:
    kind = json_type(value)
    if kind not in schema.types:
        return [f"{path}: {kind}, the real answers have {sorted(schema.types)}"]
    out: list[str] = []
    if isinstance(value, dict):
        out += [f"{path}: lacks {k!r}" for k in sorted(schema.required - value.keys())]
        out += [
            f"{path}: has {k!r}, which no real answer has" for k in sorted(value.keys() - schema.keys.keys())
        ]
        for k, v in value.items():
            if k in schema.keys:
                out += problems(v, schema.keys[k], f"{path}.{k}")
    if isinstance(value, list):
        if schema.items is None and value:
            out.append(f"{path}: {len(value)} elements where the real answers have none")
        for n, v in enumerate(value):
            if schema.items is not None:
                out += problems(v, schema.items, f"{path}[{n}]")
    return out


def sim_payload(c: Capture, root: str) -> dict[str, Any]:
    """The real request, asking the simulated province for a month the simulated world has."""
    payload = dict(c.payload)
    if "rootDepartmentId" in payload:
        payload["rootDepartmentId"] = root
    if "year" in payload:
        payload.update(year=2023, month=8)
    if "fromDate" in payload:
        payload.update(fromDate="2023-08-01", toDate="2023-08-31")
    return payload


def ask(simulation: Simulation, c: Capture, payload: dict[str, Any]) -> httpx.Response:
    path = c.url.split("dichvucong.gov.vn", 1)[1]
    return loopback.post(simulation.url("dvc_quocgia") + path, json=payload, timeout=60)


@needs_real
@pytest.mark.parametrize("c", captures(), ids=lambda c: c.endpoint)
def test_the_simulated_answer_has_the_real_answers_schema(c: Capture, simulation: Simulation) -> None:
    schema = derive([json.loads(c.body())])
    response = ask(simulation, c, sim_payload(c, root_id(simulation.world)))
    assert response.status_code == c.status == 201
    assert response.headers["content-type"] == c.content_type
    found = problems(response.json(), schema)
    assert not found, found[:10]


def test_the_schema_check_catches_a_renamed_or_retyped_field() -> None:
    schema = derive([{"code": "OK", "data": {"children": [{"score": 1.5, "scoreDelta": None}]}}])
    assert problems({"code": "OK", "data": {"children": [{"points": 1.5, "scoreDelta": None}]}}, schema) == [
        "$.data.children[0]: lacks 'score'",
        "$.data.children[0]: has 'points', which no real answer has",
    ]
    assert problems({"code": "OK", "data": {"children": [{"score": "1.5", "scoreDelta": None}]}}, schema)


@needs_real
@pytest.mark.parametrize("c", [c for c in captures() if "/evaluation/" in c.url], ids=lambda c: c.endpoint)
def test_the_simulated_scores_are_the_worlds_and_follow_the_dashboards_formulas(
    c: Capture, simulation: Simulation
) -> None:
    payload = sim_payload(c, root_id(simulation.world))
    response = ask(simulation, c, payload)
    view = SnapshotView(
        url=c.url, method="POST", request_body=json.dumps(payload).encode(), body=response.content
    )
    report = read_report(view)
    world = simulation.world
    ids = {a.name: a.id for a in world.province_agencies}
    for d in report.departments:
        assert d.score == world.score(ids[d.name], "2023-08")[report.endpoint.group]
    planted = {(x.agency_id, x.group) for x in world.discrepancies if x.period == "2023-08"}
    for check in reconcile_report(report, DEFINITIONS, parent=False):
        if (ids[check.name], check.group) in planted:
            continue  # a published score its counts do not support, on purpose (truth lists them)
        assert check.status in ("equal", "unchecked"), check.describe()


def test_an_unknown_root_or_endpoint_is_not_an_answer(simulation: Simulation) -> None:
    base = simulation.url("dvc_quocgia") + "/api/v1/reporting/evaluation/"
    body = {"rootDepartmentId": "00000000-0000-0000-0000-000000000000", "timeType": "month", "year": 2023,
            "month": 8}  # fmt: skip
    assert loopback.post(base + "transparency", json=body, timeout=60).status_code == 404
    body["rootDepartmentId"] = root_id(simulation.world)
    assert loopback.post(base + "no-such-thing", json=body, timeout=60).status_code == 404
