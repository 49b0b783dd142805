"""A simulated country for scale runs (`cchc sim --portals N`): N ward and commune units, each with its own
NukeViet news portal laid out like the simulation's ward portals (four categories, one of them on
administrative reform, an RSS feed), in place of the configured units and portals.

After the 2025 reform a province has about a hundred wards and communes and the country about 3,300; their
portals are the same NukeViet software, so the same simulated site serves each, with its own posts drawn from
the seed. The units carry no DVC or national-portal ids: a scale run measures the portal walk, which is what
grows with the number of units (the DVC and national portals are one host each, whatever their size).
"""

from __future__ import annotations

from datetime import date

from cchc.settings import Portal, Settings, Unit
from sim.world import slugify

MAX_PORTALS = 5000
WARD_CATEGORIES = ["tin-tuc-su-kien", "cai-cach-hanh-chinh", "van-hoa-xa-hoi", "thong-bao"]
REFORM_CATEGORIES = ["cai-cach-hanh-chinh"]
# Words that Vietnamese ward and commune names are made of; the two lists share none, so no name repeats one.
_FIRST = ("Tân", "Bình", "Long", "Phước", "Thạnh", "An", "Mỹ", "Phú", "Vĩnh", "Trường",
          "Thái", "Gia", "Lộc", "Ninh", "Suối", "Cẩm", "Hảo", "Chánh", "Thanh", "Hội")  # fmt: skip
_SECOND = ("Hòa", "Thành", "Lợi", "Đông", "Tây", "Hưng", "Thuận", "Hiệp", "Đức", "Lập",
           "Khánh", "Minh", "Tiến", "Phong", "Quang", "Trung", "Nghĩa", "Thới", "Điền", "Xuân")  # fmt: skip


def scaled_settings(settings: Settings, portals: int) -> Settings:
    """The same settings with `portals` generated ward/commune units and portals instead of the configured
    ones (visits and simulated faults, which name configured units and sites, are dropped)."""
    if not 1 <= portals <= MAX_PORTALS:
        raise ValueError(f"--portals: expected 1 to {MAX_PORTALS}, got {portals}")
    units: list[Unit] = []
    sites: list[Portal] = []
    combinations = len(_FIRST) * len(_SECOND)
    for n in range(portals):
        words = f"{_FIRST[n % len(_FIRST)]} {_SECOND[(n // len(_FIRST)) % len(_SECOND)]}"
        if n >= combinations:
            words += f" {n // combinations + 1}"
        ward = n % 4 == 0  # about a quarter are wards (phường), the rest communes (xã)
        label = "Phường" if ward else "Xã"
        slug = slugify(f"{label} {words}")
        sites.append(
            Portal(
                id=slug,
                name=f"Trang thông tin điện tử {label} {words}",
                base_url=f"https://{slug.replace('-', '')}.tayninh.gov.vn",
                categories=list(WARD_CATEGORIES),
                cchc_categories=list(REFORM_CATEGORIES),
                valid_from=date(2018, 1, 1),
            )
        )
        units.append(
            Unit(
                id=slug,
                kind="phuong" if ward else "xa",
                name=f"UBND {label} {words}",
                portal=slug,
                valid_from=date(2014, 1, 1),
            )
        )
    return settings.model_copy(
        update={
            "portal": sites,
            "unit": units,
            "city": settings.city.model_copy(update={"portal": sites[0].id}),
            "visit": [],
            "sim": settings.sim.model_copy(update={"faults": []}),
        }
    )
