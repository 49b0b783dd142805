"""The simulated one-stop system: a login page and a dossier look-up form, and nothing else."""

from __future__ import annotations

from typing import Any

import loopback
from bs4 import BeautifulSoup

from sim import Simulation


def test_home_redirects_to_a_login_form(simulation: Simulation) -> None:
    base = simulation.url("motcua")
    first = loopback.get(base + "/")
    assert first.status_code == 302 and first.headers["location"].startswith("/Account/Login")
    page = loopback.get(base + "/", follow_redirects=True)
    soup = BeautifulSoup(page.text, "lxml")
    form = soup.select_one("form#frmLogin")
    assert form is not None and form["method"] == "post"
    assert soup.select_one("input[type=password]") is not None
    assert "Một cửa điện tử" in soup.title.get_text()  # type: ignore[union-attr]


def test_lookup_form_exists_and_submitting_anything_is_a_trap(make_simulation: Any) -> None:
    with make_simulation() as sim:
        base = sim.url("motcua")
        page = loopback.get(base + "/tra-cuu-ho-so")
        assert BeautifulSoup(page.text, "lxml").select_one("form#frmTraCuuHoSo input#SoBienNhan") is not None
        assert sim.trap_calls() == {}
        loopback.post(base + "/Account/Login", data={"UserName": "x", "Password": "y"})
        loopback.post(base + "/tra-cuu-ho-so", data={"SoBienNhan": "000.00.20.H53-230601-0001"})
        assert sim.trap_calls() == {"motcua": ["POST /Account/Login", "POST /tra-cuu-ho-so"]}
