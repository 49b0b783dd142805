"""The news parser at a git revision against the working tree, on random mutations of the golden record's pages.

    .venv/bin/python bench/news_markup_fuzz.py --old 3f21322 --seconds 120 [--only feed] [--skip atom]

tests/test_news_markup.py checks the pages it records; this looks further, for broken markup the record does
not hold: each case is a page of the record (the simulation's default ward, the saved and hostile pages) with
one to six random edits (a tag, an entity, whitespace or a comment inserted; a slice cut or repeated). Every
case whose observations or failure differ is counted; the first few are written to --out as JSON. A case
that differs on purpose (hostile/feed-atom-link-first, docs/news.md) is left out with --skip atom.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the record's cases

from bench.news_parse_bench import old_module
from cchc.settings import Settings, load_settings
from probes._base import PageUnreadable

REPO = Path(__file__).resolve().parent.parent

EDITS = ("<b>", "</b>", "<div>", "</div>", "<!--", "-->", "<script>", "</script>", "<template>", "</template>",
         "<style>", "</style>", "<pre>", "</pre>", "<textarea>", "<rt>", "<li>", "</li>", "<a>", "</a>", "<h3>",
         "</h3>", "<p>", "<table>", "<td>", "</html>", "<html>", "</body>", "<head>", "<svg>", "<noscript>",
         "<![CDATA[", "]]>", "<?x?>", "<!DOCTYPE html>", "&nbsp;", "&amp;", "&#x3A;", "&bogus;", "\n   ", " ", "\t",
         "\r\n", "\x0c", "\xa0", "\u0301", "<", ">", '"', "'", "=",
         '<meta name="generator" content="NukeViet v4">', "<em class='fa fa-clock-o'>")  # fmt: skip


def outcome(module: Any, case: Any, settings: Settings) -> Any:
    try:
        parsed = module.PROBE.parse(case.view(), settings)
    except PageUnreadable as exc:
        return ("failure", exc.parser, exc.reason)
    except Exception as exc:
        return ("exception", type(exc).__name__, str(exc))
    return [
        (f.metric, f.period, f.unit, f.value, f.text, dict(f.attributes)) for f in parsed.found
    ], parsed.next_urls


def mutated(body: str, rng: random.Random) -> str:
    for _ in range(rng.randint(1, 6)):
        at = rng.randrange(len(body) + 1)
        roll = rng.random()
        if roll < 0.5:
            body = body[:at] + rng.choice(EDITS) + body[at:]
        elif roll < 0.8:
            body = body[:at] + body[at + rng.randint(1, 40) :]
        else:
            other = rng.randrange(len(body) + 1)
            body = body[:at] + body[min(at, other) : max(at, other)][:200] + body[at:]
    return body


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--old", default="3f21322", help="git revision of the old parser (default: %(default)s)"
    )
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--only", default="", help="only cases whose name holds this")
    parser.add_argument("--skip", default="", help="no case whose name holds this")
    parser.add_argument("--out", type=Path, default=Path("/tmp/news_markup_fuzz"))
    args = parser.parse_args()
    warnings.simplefilter("ignore")  # bs4 warns of markup that looks like a URL
    import dataclasses
    import importlib

    import probes.news as new

    all_cases = importlib.import_module("test_news_markup").all_cases

    settings = load_settings(REPO / "config.toml", environ={})
    old = old_module(args.old)
    kept = ("sim/default/phuong-1", "hostile", "saved")
    cases = [c for c in all_cases(settings) if c.name.startswith(kept) and args.only in c.name
             and not (args.skip and args.skip in c.name)]  # fmt: skip
    rng = random.Random(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    tried = differ = 0
    deadline = time.monotonic() + args.seconds
    while time.monotonic() < deadline:
        base = rng.choice(cases)
        body = mutated(base.body.decode("utf-8"), rng)
        case = dataclasses.replace(base, body=body.encode("utf-8", "surrogatepass"))
        before, after = outcome(old, case, settings), outcome(new, case, settings)
        tried += 1
        if before != after:
            differ += 1
            if differ <= 20:
                record = {"case": base.name, "body": body, "old": repr(before), "new": repr(after)}
                (args.out / f"differ-{differ}.json").write_text(
                    json.dumps(record, ensure_ascii=False), "utf-8"
                )
    print(
        f"{tried} mutated pages, {differ} read differently"
        + (f" (the first in {args.out})" if differ else "")
    )


if __name__ == "__main__":
    main()
