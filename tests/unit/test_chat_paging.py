"""Règles pures des systèmes « en avant » : parcours de la liste, pages, ordre des fichiers."""

from __future__ import annotations

from crispscrape.sources.ninja import NINJA
from crispscrape.paging.chat import ChatListWalk
from crispscrape.sources.wanzo import WANZO


def test_a_still_list_is_walked_once_at_the_minimum():
    walk = ChatListWalk(limit=2)
    assert walk.page(["a", "b"], 5) == 2
    assert walk.page(["c", "d"], 5) == 4
    assert walk.page(["e"], 5) is None
    assert walk.passes == 1 and walk.complete()


def test_a_list_that_moved_is_walked_again_and_bounded():
    walk = ChatListWalk(limit=2, max_passes=2)
    assert walk.page(["a", "b"], 4) == 2
    # « c » est remonté en tête : « b » glisse sur la page suivante et revient.
    assert walk.page(["b", "d"], 4) == 0
    assert walk.passes == 2
    assert walk.page(["c", "a"], 4) == 2
    assert walk.page(["b", "d"], 4) is None
    assert walk.complete()


def test_a_deletion_during_the_walk_triggers_another_pass():
    walk = ChatListWalk(limit=2)
    assert walk.page(["a", "b"], 5) == 2
    # « a » supprimé : tout glisse d'un cran (« c » est sauté) et le total change.
    assert walk.page(["d", "e"], 4) == 0
    assert walk.passes == 2


def test_ninja_pages_by_offset_after_the_highest_id_on_disk():
    page = NINJA.first_page([3, 9, 7])
    assert page == {"since": 9, "offset": 0}
    items = [{"id": i} for i in range(10, 110)]
    messages, following = NINJA.read_messages({"items": items, "count": 150}, page)
    assert following == {"since": 9, "offset": 100}
    messages, following = NINJA.read_messages({"items": items[:50], "count": 150}, following)
    assert following is None


def test_wanzo_follows_the_last_id_of_each_page_not_next_cursor():
    assert WANZO.first_page(["newest", "older"]) == {"after": "newest"}
    assert WANZO.first_page([]) == {"after": None}
    payload = {"messages": [{"id": "x1"}, {"id": "x2"}], "hasMore": True, "nextCursor": "x3"}
    assert WANZO.read_messages(payload, {"after": None})[1] == {"after": "x2"}
    payload["hasMore"] = False
    assert WANZO.read_messages(payload, {"after": None})[1] is None


def test_wanzo_ties_are_in_the_reverse_of_the_api_order_across_runs():
    model = WANZO.model
    t1, t2 = "2025-01-01T10:00:00.000Z", "2025-01-01T11:00:00Z"
    a, b, c = ({"id": i, "timestamp": t1} for i in ("zz", "aa", "mm"))
    first = model.arrange({}, {"zz": a, "aa": b}, [])
    assert [m["id"] for m in first] == ["aa", "zz"]
    stored = {m["id"]: m for m in first}
    d = {"id": "dd", "timestamp": t2}
    second = model.arrange(stored, {"mm": c, "dd": d}, [])
    assert [m["id"] for m in second] == ["dd", "mm", "aa", "zz"]


def test_ninja_files_are_ordered_by_date_then_id():
    model = NINJA.model
    messages = {1: {"id": 1, "date": "2025-03-08T17:21:49.677Z"},
                2: {"id": 2, "date": "2025-03-08T17:21:49.677Z"},
                3: {"id": 3, "date": "2025-03-08T17:00:00Z"}}
    assert [m["id"] for m in model.arrange({}, messages, [])] == [2, 1, 3]


def test_hostile_ids_get_a_safe_file_name_inside_the_folder():
    for hostile in ("../evil", "a/b", "x" * 300, "nul\x00", ".hidden", ""):
        name = WANZO.model.file_name(hostile)
        assert "/" not in name and "\x00" not in name and not name.startswith(".")
        assert len(name) < 100
    assert WANZO.model.file_name("ctx-1") == "ctx-1.jsonl"
