"""`cchc discover` against the simulated portals, whose ids are none of the config's placeholders: it proposes
exactly the simulation's ids, each with how it was found, and `--write` gives a valid config with its comments."""

from __future__ import annotations

import os
import subprocess
from dataclasses import replace
from pathlib import Path

from cchc.settings import Settings, load_settings
from cli.discover import apply_changes
from cli.simlink import world_spec
from cli_process import run_cli
from conftest import CONFIG
from probes.discovery import Change
from sim import Simulation, WorldSpec

ID_KEYS = ("dvc_donvi_id", "national_id", "ma_coquan", "dvc_linh_vuc_ids")


def cchc(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "CCHC_CONFIG"} | {"COLUMNS": "250"}
    return run_cli(["--config", str(config), *args], timeout=180, check=False, env=env)


def simulation_ids(spec: WorldSpec) -> WorldSpec:
    """The same world under other ids: the config's DonViIDs, national ids and codes are all placeholders."""
    units = tuple(
        replace(u, dvc_donvi_id=u.dvc_donvi_id + 1000, national_id=f"70{u.national_id}",
                ma_coquan=u.ma_coquan.replace("H53", "H70"))
        if u.dvc_donvi_id is not None and u.national_id and u.ma_coquan else u
        for u in spec.units
    )  # fmt: skip
    city = replace(spec.city, dvc_donvi_id=spec.city.dvc_donvi_id + 1000, national_id="7099450",
                   ma_coquan="000.00.20.H70")  # fmt: skip
    return replace(spec, units=units, city=city)


def config_pointing_at(sim: Simulation, settings: Settings, target: Path) -> str:
    """config.toml as the project ships it (comments, placeholders), its base URLs on the simulation and its
    politeness for loopback: edited as text, so that the file is the real one."""
    text = CONFIG.read_text(encoding="utf-8")
    real = {"dvc_tinh": settings.sources.dvc_tinh.base_url, "motcua": settings.sources.motcua.base_url,
            "dvc_quocgia": settings.sources.dvc_quocgia.base_url, **{p.id: p.base_url for p in settings.portal}}  # fmt: skip
    for site, url in real.items():
        text = text.replace(f'base_url = "{url}"', f'base_url = "{sim.urls[site]}"', 1)
    text = text.replace("min_delay_s = 2.0 ", "min_delay_s = 0.0 ").replace(
        "latency_factor = 4.0 ", "latency_factor = 0.0 "
    )
    text = text.replace('blob_dir = "data/blobs"', f'blob_dir = "{target.parent / "blobs"}"')
    target.write_text(text, encoding="utf-8")
    return text


def comments(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip().startswith("#")]


def test_discover_proposes_exactly_the_simulations_ids_and_write_keeps_the_comments(
    settings: Settings, tmp_path: Path
) -> None:
    spec = simulation_ids(world_spec(settings))
    config = tmp_path / "config.toml"
    with Simulation(spec) as sim:
        original = config_pointing_at(sim, settings, config)
        before = load_settings(config, environ={})
        proposed = cchc(config, "discover")
        assert proposed.returncode == 0, proposed.stdout + proposed.stderr
        assert config.read_text(encoding="utf-8") == original  # without --write nothing is changed
        assert "matched by name" in proposed.stdout and "+dvc_donvi_id = 1350" in proposed.stdout
        written = cchc(config, "discover", "--write")
        assert written.returncode == 0, written.stdout + written.stderr
        again = cchc(config, "discover")
        fields = {name: f.id for (level, name), f in sim.world.fields.items() if level == "huyen"}
        province = sim.world.province_id
    assert "nothing to change" in again.stdout, again.stdout  # the written ids are the portals' own

    after = load_settings(config, environ={})
    assert (after.city.dvc_donvi_id, after.city.national_id, after.city.ma_coquan) == (
        spec.city.dvc_donvi_id, spec.city.national_id, spec.city.ma_coquan)  # fmt: skip
    assert after.sources.dvc_quocgia.province_id == province
    for unit in spec.units:
        mine = after.unit_by_id(unit.id)
        if unit.kind == "phong":
            assert mine.dvc_linh_vuc_ids == {name: fields[name] for name in unit.linh_vuc}, unit.id
        elif unit.dvc_donvi_id is not None:
            assert (mine.dvc_donvi_id, mine.national_id, mine.ma_coquan) == (
                unit.dvc_donvi_id, unit.national_id, unit.ma_coquan), unit.id  # fmt: skip

    # Exactly those: every other setting is as it was.
    def without_ids(s: Settings) -> dict[str, object]:
        data = s.model_dump(mode="json")
        data["sources"]["dvc_quocgia"].pop("province_id")
        for table in (data["city"], *data["unit"]):
            for key in ID_KEYS:
                table.pop(key, None)
        return data

    assert without_ids(after) == without_ids(before)

    checked = cchc(config, "config", "check")
    assert checked.returncode == 0 and ": ok:" in checked.stdout, checked.stdout + checked.stderr
    text = config.read_text(encoding="utf-8")
    assert comments(text) == comments(original)  # every comment line, in its place
    for line in original.splitlines():
        if "# [inferred]" in line and "dvc_donvi_id" in line:
            key = line.split("=")[0]
            assert any(
                new.startswith(key) and "# [inferred] → matched by" in new for new in text.splitlines()
            )


def test_a_new_key_goes_beside_the_key_it_belongs_with_not_after_the_next_tables_comment() -> None:
    text = '[[unit]]\nid = "a"\ndvc_linh_vuc = ["Hộ tịch"]  # fields\nvalid_from = 2021-01-01\n\n# the next unit\n[[unit]]\nid = "b"\n'
    change = Change("unit", "dvc_linh_vuc_ids", {}, {"Hộ tịch": 5}, "matched by name", "a")
    lines = apply_changes(text, [change], "cchc discover 2026-12-06").splitlines()
    assert lines[3].startswith('dvc_linh_vuc_ids = {"Hộ tịch" = 5}') and "matched by name" in lines[3]
    assert lines[2] == 'dvc_linh_vuc = ["Hộ tịch"]  # fields' and lines[6] == "# the next unit"


def test_a_unit_the_reports_do_not_list_is_a_finding_and_a_non_zero_exit(
    settings: Settings, tmp_path: Path
) -> None:
    spec = world_spec(settings)
    absent = replace(spec, units=tuple(replace(u, national_id=None, ma_coquan=None) if u.id == "xa-thanh-tan" else u
                                       for u in spec.units))  # fmt: skip
    config = tmp_path / "config.toml"
    with Simulation(absent) as sim:
        original = config_pointing_at(sim, settings, config)
        result = cchc(config, "discover", "--write")
    assert result.returncode == 1, result.stdout + result.stderr
    finding = " ".join(result.stderr.split())
    assert "finding: report_tinh_766_service and report_by_month_sum_service: xa-thanh-tan (UBND Xã Thạnh Tân): " \
           "no row matches by id 0000460, code 000.10.20.H53 or name" in finding  # fmt: skip
    # What was found is still written (the province's id, the phòng's fields); the absent unit's ids stay as they were.
    after = load_settings(config, environ={})
    assert after.unit_by_id("xa-thanh-tan").national_id == "0000460"
    assert after.sources.dvc_quocgia.province_id == sim.world.province_id
    assert comments(config.read_text(encoding="utf-8")) == comments(original)


def test_discover_learns_each_wards_department_id_and_code_from_the_v1_tree(
    settings: Settings, tmp_path: Path
) -> None:
    from sim.sites.national_v1 import V1Api, root_id

    config = tmp_path / "config.toml"
    with Simulation(world_spec(settings)) as sim:
        text = config_pointing_at(sim, settings, config)
        root = root_id(sim.world)
        config.write_text(text.replace("impl_level_ids =", f'root_department_id = "{root}"\nimpl_level_ids =', 1),
                          encoding="utf-8")  # fmt: skip
        listed = {agency.id: (ident, code) for agency, ident, code in V1Api(sim.world).departments}
        written = cchc(config, "discover", "--write")
        assert written.returncode == 0, written.stdout + written.stderr
        assert "dvc-progress-tree" in written.stdout and "matched by name" in written.stdout
        again = cchc(config, "discover")
    assert "nothing to change" in again.stdout, again.stdout
    after = load_settings(config, environ={})
    wards = [u for u in after.unit if u.kind != "phong" and u.national_id in listed]
    assert wards
    for unit in wards:
        assert (unit.v1_department_id, unit.v1_department_code) == listed[str(unit.national_id)], unit.id
