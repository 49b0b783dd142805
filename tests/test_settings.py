"""config.toml is the real 2023 inspection, and a broken config gives one clear line naming file and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from cchc.errors import ConfigError
from cchc.settings import Settings, load_settings
from cli_process import run_cli
from conftest import CONFIG


def broken(tmp_path: Path, old: str, new: str, count: int = 1) -> Path:
    text = CONFIG.read_text(encoding="utf-8")
    assert text.count(old) >= count, f"fixture text {old!r} not found in config.toml"
    target = tmp_path / "config.toml"
    target.write_text(text.replace(old, new, count), encoding="utf-8")
    return target


def only_problem(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ={})
    lines = str(caught.value).splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"{path}: "), lines[0]
    return lines[0]


def test_the_real_config_is_the_2023_inspection(settings: Settings) -> None:
    inspected = settings.units_in_inspection()
    kinds = [u.kind for u in inspected]
    assert (kinds.count("phong"), kinds.count("phuong"), kinds.count("xa")) == (12, 7, 3)
    assert settings.inspection.plan == "110/KH-UBND"
    assert str(settings.inspection.plan_date) == "2023-05-26"
    assert settings.sources.dvc_tinh.base_url == "https://dichvucong.tayninh.gov.vn"
    assert settings.sources.motcua.base_url == "https://motcua.tayninh.gov.vn"
    assert settings.sources.dvc_quocgia.base_url == "https://dichvucong.gov.vn"
    ward = settings.unit_by_id("phuong-4")
    assert ward.name == "UBND Phường IV" and ward.dvc_donvi_id and ward.ma_coquan
    assert settings.portal_by_id(ward.portal).base_url == "https://phuong4thanhpho.tayninh.gov.vn"
    assert all(settings.portal_by_id(u.portal).id == "thanhpho" for u in inspected if u.kind == "phong")
    assert {v.unit for v in settings.visit} == {u.id for u in inspected}
    assert all(v.date <= settings.inspection.ends_by for v in settings.visit)
    assert {s.probe for s in settings.schedule} == {"availability", "news", "procedures", "service_stats"}


def test_relative_storage_paths_resolve_next_to_the_config(settings: Settings) -> None:
    assert settings.storage.database_url == f"sqlite:///{CONFIG.parent / 'data' / 'cchc.sqlite3'}"
    assert settings.storage.blob_dir == CONFIG.parent / "data" / "blobs"


def test_wrong_type_names_the_key_and_the_expected_type(tmp_path: Path) -> None:
    line = only_problem(broken(tmp_path, "page_size = 50", 'page_size = "fifty"'))
    assert line.endswith("sources.dvc_tinh.page_size: expected an integer, got 'fifty'")


def test_unknown_key_is_refused(tmp_path: Path) -> None:
    line = only_problem(broken(tmp_path, "obey_robots = true", "obey_robots = true\nobey_robot = false"))
    assert line.endswith("politeness.obey_robot: unknown key")


def test_duplicate_unit_id_is_refused(tmp_path: Path) -> None:
    text = CONFIG.read_text(encoding="utf-8")
    block = text[text.index('[[unit]]\nid = "xa-thanh-tan"') :].split("\n\n")[0]
    path = tmp_path / "config.toml"
    path.write_text(text + "\n" + block + "\n", encoding="utf-8")
    assert only_problem(path).endswith("unit[xa-thanh-tan].id: duplicate id 'xa-thanh-tan'")


def test_bad_url_is_refused(tmp_path: Path) -> None:
    line = only_problem(
        broken(tmp_path, '"https://dichvucong.tayninh.gov.vn"', '"dichvucong.tayninh.gov.vn"')
    )
    assert "sources.dvc_tinh.base_url: expected an http(s) URL with a host" in line


def test_bad_url_in_a_list_item_names_the_item_by_id(tmp_path: Path) -> None:
    line = only_problem(broken(tmp_path, '"https://phuong3thanhpho.tayninh.gov.vn"', '"ftp://phuong3"'))
    assert "portal[phuong-3].base_url: expected an http(s) URL" in line


def test_missing_file_is_named(tmp_path: Path) -> None:
    assert only_problem(tmp_path / "nope.toml").endswith("nope.toml: file not found")


def test_toml_syntax_error_gives_line_and_column(tmp_path: Path) -> None:
    line = only_problem(broken(tmp_path, "year = 2023", "year = = 2023"))
    assert "TOML syntax" in line and "line" in line


def test_missing_required_key_is_named(tmp_path: Path) -> None:
    line = only_problem(broken(tmp_path, 'contact = "mailto:cchc-watch@example.invalid"', ""))
    assert line.endswith("collector.contact: required key is missing")


def test_dangling_reference_is_named(tmp_path: Path) -> None:
    line = only_problem(broken(tmp_path, 'unit = "phuong-3"', 'unit = "phuong-33"'))
    assert "unit: expected a unit id from [[unit]], got 'phuong-33'" in line


def test_bad_enumeration_lists_the_choices(tmp_path: Path) -> None:
    line = only_problem(broken(tmp_path, 'kind = "xa"', 'kind = "huyen"'))
    assert "unit[xa-binh-minh].kind: expected one of 'phong', 'phuong' or 'xa', got 'huyen'" in line


def test_environment_selects_the_config_and_overrides_the_database(tmp_path: Path) -> None:
    copy = tmp_path / "other.toml"
    copy.write_text(CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    env = {"CCHC_CONFIG": str(copy), "CCHC_DATABASE_URL": "postgresql+psycopg://u@db/cchc"}
    settings = load_settings(None, environ=env)
    assert settings.storage.database_url == "postgresql+psycopg://u@db/cchc"
    assert settings.storage.blob_dir == tmp_path / "data" / "blobs"


def test_cli_prints_one_line_and_exits_2(tmp_path: Path) -> None:
    path = broken(tmp_path, "page_size = 50", "page_size = -1")
    result = run_cli(
        ["--config", str(path), "config", "check"],
        timeout=120,
        check=False,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"{path}: sources.dvc_tinh.page_size: expected: input should be greater than or equal to 1, got -1"
    ]


def test_cli_config_check_on_the_real_config() -> None:
    result = run_cli(
        ["--config", str(CONFIG), "config", "check"],
        timeout=120,
        check=True,
    )
    assert "12 phòng, 7 phường, 3 xã" in result.stdout
