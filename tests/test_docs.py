"""Documentation that cannot drift: every setting is documented, and the README shows the two commands."""

from __future__ import annotations

import typing
from pathlib import Path

from pydantic import BaseModel

from cchc.settings import Settings
from conftest import REPO


def setting_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for name, field in model.model_fields.items():
        nested = [
            t
            for t in (field.annotation, *typing.get_args(field.annotation))
            for t in (t, *typing.get_args(t))
            if isinstance(t, type) and issubclass(t, BaseModel)
        ]
        keys += setting_keys(nested[0], f"{prefix}{name}.") if nested else [prefix + name]
    return keys


def test_every_setting_is_documented() -> None:
    text = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [key for key in setting_keys(Settings) if f"`{key}`" not in text]
    assert missing == []


def test_readme_holds_the_two_setup_commands() -> None:
    text = Path(REPO / "README.md").read_text(encoding="utf-8")
    setup = text.split("## Set-up")[1].split("##")[0]
    commands = [line.split("#")[0].strip() for line in setup.splitlines() if line.startswith("make ")]
    assert commands == ["make demo", "make test"]


def test_ci_runs_make_test_with_postgres_required() -> None:
    text = (REPO / ".ci" / "run").read_text(encoding="utf-8")
    assert "CCHC_REQUIRE_PG=1" in text and "make test" in text


def test_every_indicator_of_the_rule_set_has_its_row_with_its_tag() -> None:
    """docs/indicators.md: per indicator a row with its formula, shape, source and tag (and, for 766, what we
    compute and what we read from the dashboard)."""
    import re

    from indicators.definitions import load_definitions

    definitions = load_definitions(REPO / "indicators.toml")
    rows: dict[str, list[str]] = {}
    for line in (REPO / "docs" / "indicators.md").read_text(encoding="utf-8").splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) >= 5:
            for key in re.findall(r"`(PAR_\w+)`|\b(\d\.\d)\b", cells[0]):
                rows.setdefault(key[0] or "I766_" + key[1].replace(".", "_"), cells)
    tags = [(i.id, i.confidence) for i in definitions.indicator]
    tags += [(r.id, r.confidence) for r in definitions.reported_only]
    for indicator, tag in tags:
        assert indicator in rows, indicator
        formula, source, documented = rows[indicator][1], rows[indicator][3], rows[indicator][4]
        assert formula and source and documented == tag, (indicator, documented, tag)
        if indicator.startswith("I766_"):
            assert rows[indicator][5], indicator  # what we compute, or read from the dashboard


def test_every_v1_endpoint_and_formula_is_mapped_in_the_docs() -> None:
    """docs/indicators.md maps each api/v1 endpoint to its 766 group, indicators and dvcqg-v1 formula."""
    from indicators.definitions import load_definitions
    from probes.national_v1 import ENDPOINTS

    text = (REPO / "docs" / "indicators.md").read_text(encoding="utf-8")
    section = text.split("## Rule set `dvcqg-v1`")[1]
    for name, endpoint in ENDPOINTS.items():
        row = next(line for line in section.splitlines() if line.startswith(f"| `evaluation/{name}`"))
        assert f"i766_score_{endpoint.group.lower()}" in row, name
    dashboard = load_definitions(REPO / "indicators.toml").dashboard
    assert dashboard is not None and dashboard.rule_set in text
    for formula in dashboard.formula:
        assert (
            f"`{formula.metric}`" in section
            if formula.metric
            else f"`evaluation/{formula.endpoint}`" in section
        )
    fields = (REPO / "docs" / "portal-fields.md").read_text(encoding="utf-8")
    assert all(f"`{name}`" in fields or f"evaluation/{name}" in fields for name in ENDPOINTS)
    assert "`formalities`" in fields
