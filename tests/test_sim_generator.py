"""The generator is deterministic, realistic and NFC, and its classification of posts is coherent."""

from __future__ import annotations

import dataclasses
import unicodedata
from datetime import date

from sim import WorldSpec, generate_world, ground_truth
from sim.truth import is_reform_post


def test_same_seed_same_world_and_another_seed_another(spec: WorldSpec) -> None:
    first, again = ground_truth(generate_world(spec)), ground_truth(generate_world(spec))
    assert first == again
    other = ground_truth(generate_world(dataclasses.replace(spec, seed=spec.seed + 1)))
    assert other["units"] != first["units"]


def test_adding_a_month_leaves_earlier_months_unchanged(spec: WorldSpec) -> None:
    earlier = ground_truth(generate_world(dataclasses.replace(spec, as_of=date(2023, 8, 31))))
    later = ground_truth(generate_world(spec))
    for unit_id, unit in earlier["units"].items():
        for month, cell in unit["months"].items():
            assert later["units"][unit_id]["months"][month] == cell, (unit_id, month)


def test_all_text_is_nfc_and_vietnamese(spec: WorldSpec) -> None:
    world = generate_world(spec)
    texts = [p.title for posts in world.posts.values() for p in posts]
    texts += [p.name for rows in world.procedures.values() for p in rows]
    assert texts
    assert all(unicodedata.is_normalized("NFC", t) for t in texts)
    assert any("ư" in t or "ơ" in t for t in texts)


def test_general_titles_never_look_like_reform_posts(spec: WorldSpec) -> None:
    """Outside reform categories, only reform-themed titles carry a keyword: the truth's rule is unambiguous."""
    world = generate_world(spec)
    for portal in spec.portals:
        for post in world.posts[portal.id]:
            if post.category in portal.cchc_categories:
                assert is_reform_post(post, portal, spec.cchc_keywords)


def test_data_stops_at_the_as_of_date(spec: WorldSpec) -> None:
    world = generate_world(spec)
    latest = max(p.published for posts in world.posts.values() for p in posts)
    assert latest.date() <= spec.as_of
    assert world.months[-1] == f"{spec.as_of:%Y-%m}"


def test_some_posts_sit_on_month_boundaries(spec: WorldSpec) -> None:
    """Posts just after midnight on the 1st exist, so month counts from UTC feed dates would be wrong."""
    world = generate_world(spec)
    boundary = [
        p for posts in world.posts.values() for p in posts if p.published.day == 1 and p.published.hour == 0
    ]
    assert len(boundary) >= 10
