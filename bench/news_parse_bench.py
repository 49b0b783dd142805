"""CPU per page of the news parser: a category page, an article and an RSS feed, old parser against new.

    .venv/bin/python bench/news_parse_bench.py --old 3f21322 --rounds 5 --repeat 200

Pages are rendered by the simulation (no server, no network) as NukeViet 4.5 serves them: page 1 of a
category (20 posts), one article, the portal's feed (30 items). "new" is probes/news.py as it is here; "old"
is probes/news.py at the git revision `--old` (the BeautifulSoup parser before the lxml one), loaded under
another module name. Each figure is the best of `--rounds` means of `--repeat` parses, in µs per page.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from cchc.settings import Settings, load_settings
from cli.simlink import world_spec
from probes._base import SnapshotView
from sim import Simulation
from sim.http import Request
from sim.sites.nukeviet import NukeVietSite

REPO = Path(__file__).resolve().parent.parent
PORTAL = "phuong-1"


def pages(settings: Settings) -> dict[str, SnapshotView]:
    sim = Simulation(world_spec(settings))  # never started: the site renders pages without a server
    site = sim.sites[PORTAL]
    assert isinstance(site, NukeVietSite)
    base = settings.portal_by_id(PORTAL).base_url
    site.origin = base
    post = site.by_category["tin-tuc-su-kien"][0]
    paths = {
        "category page": "/vi/news/tin-tuc-su-kien/",
        "article": site.post_url(post, "tin-tuc-su-kien"),
        "rss": "/vi/news/rss/",
    }
    views = {}
    for name, path in paths.items():
        response = site.handle(Request("GET", path, {}, {}, b"", 0))
        assert response.status == 200, (name, response.status)
        views[name] = SnapshotView(url=base + path, body=response.body,
                                   headers=(("Content-Type", response.content_type),))  # fmt: skip
    return views


def old_module(revision: str) -> ModuleType:
    source = subprocess.run(["git", "-C", str(REPO), "show", f"{revision}:probes/news.py"],
                            check=True, capture_output=True, text=True).stdout  # fmt: skip
    path = Path(tempfile.mkdtemp()) / "news_old.py"
    path.write_text(source, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("probes._news_old_bench", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def per_page_us(
    module: ModuleType, view: SnapshotView, settings: Settings, rounds: int, repeat: int
) -> float:
    parse = module.PROBE.parse
    parse(view, settings)  # warm caches (the portal directory, imports)
    best = float("inf")
    for _ in range(rounds):
        start = time.process_time()
        for _ in range(repeat):
            parse(view, settings)
        best = min(best, (time.process_time() - start) / repeat * 1e6)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--old", default="3f21322", help="git revision of the old parser (default: %(default)s)"
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=200)
    args = parser.parse_args()
    settings = load_settings(REPO / "config.toml", environ={})
    import probes.news as new

    old = old_module(args.old)
    print(f"{'page':<15} {'KB':>5} {'old µs':>9} {'new µs':>9} {'new/old':>8}")
    for name, view in pages(settings).items():
        before = per_page_us(old, view, settings, args.rounds, args.repeat)
        after = per_page_us(new, view, settings, args.rounds, args.repeat)
        same = old.PROBE.parse(view, settings) == new.PROBE.parse(view, settings)
        print(f"{name:<15} {len(view.body) / 1024:>5.0f} {before:>9.0f} {after:>9.0f} {after / before:>8.2f}"
              f"{'' if same else '  (results differ!)'}")  # fmt: skip


if __name__ == "__main__":
    main()
