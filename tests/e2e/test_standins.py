"""Fidélité de la doublure ninja (issue 11), en HTTP réel contre un sous-processus.

Le contrat : /api/conversation/ et /api/messages/{uuid}/ (limit/offset, since strict, count
avant la page), jeton Bearer facultatif, 401, 404, 422, 301, ordre de la liste non garanti,
options « id » au lieu de « uuid » et sans « updated », identifiants hostiles, administration.
Les pannes communes aux deux doublures : tests/e2e/test_standins_faults.py ; wanzo :
tests/e2e/test_standins_wanzo.py.
"""

from __future__ import annotations

from datetime import datetime
from itertools import pairwise

import pytest

from crispsandbox.standins.corpus import HOSTILE_KEYS, SPECIAL_COUNTS
from crispsandbox.standins.process import start_standin
from tests.support.standins import NINJA_TOKEN

ISO_Z = "%Y-%m-%dT%H:%M:%S.%fZ"


@pytest.fixture(scope="module")
def ninja():
    """Doublure ninja en lecture seule (aucune mutation), avec jeton et identifiants hostiles."""
    with start_standin("ninja", seed=3, conversations=40, token=NINJA_TOKEN, hostile_ids=True) as running:
        yield running


def _key(conversation: dict) -> str:
    return conversation.get("uuid", conversation.get("id"))


def _all_conversations(standin, limit: int) -> list[dict]:
    items, offset = [], 0
    while True:
        status, _, body = standin.get("/conversation/", {"limit": limit, "offset": offset})
        assert status == 200
        items += body["items"]
        offset += limit
        if offset >= body["count"]:
            return items


def test_list_pages_cover_truth_exactly_and_count(ninja):
    truth = ninja.truth()["conversations"]
    listed = _all_conversations(ninja, 7)
    assert len(listed) == len(truth) == 43  # 40 + 3 hostiles
    assert sorted(listed, key=_key) == sorted(truth, key=_key)
    assert set(listed[0]) == {"uuid", "name", "email", "created", "updated"}
    status, _, body = ninja.get("/conversation/")
    assert status == 200 and body["count"] == 43 and len(body["items"]) == 43


def test_default_limit_is_100(ninja_sandbox_factory):
    standin = ninja_sandbox_factory(conversations=130, max_messages=2)
    status, _, body = standin.get("/conversation/")
    assert status == 200 and body["count"] == 130 and len(body["items"]) == 100
    _, _, rest = standin.get("/conversation/", {"offset": 100})
    assert len(rest["items"]) == 30
    assert {_key(item) for item in body["items"]}.isdisjoint({_key(item) for item in rest["items"]})


def test_list_order_is_not_creation_order_and_changes_with_data(ninja_sandbox):
    truth = [_key(item) for item in ninja_sandbox.truth()["conversations"]]
    first = [_key(item) for item in ninja_sandbox.get("/conversation/")[2]["items"]]
    assert sorted(first) == sorted(truth)
    assert first != truth and first != sorted(truth)
    assert first == [_key(item) for item in ninja_sandbox.get("/conversation/")[2]["items"]]  # données inchangées
    for key in truth[:10]:
        ninja_sandbox.append(key)
    after = [_key(item) for item in ninja_sandbox.get("/conversation/")[2]["items"]]
    assert sorted(after) == sorted(first) and after != first


def test_shuffle_order_changes_at_every_call(ninja_sandbox_factory):
    standin = ninja_sandbox_factory(conversations=20, list_order="shuffle")
    orders = [tuple(_key(item) for item in standin.get("/conversation/")[2]["items"]) for _ in range(3)]
    assert len(set(orders)) == 3 and len({tuple(sorted(order)) for order in orders}) == 1


def test_messages_oldest_to_newest_with_global_increasing_ids(ninja):
    truth = ninja.truth()
    every = [message for messages in truth["messages"].values() for message in messages]
    assert len({message["id"] for message in every}) == len(every)
    by_id = sorted(every, key=lambda message: message["id"])
    dates = [datetime.strptime(message["date"], ISO_Z) for message in by_id]
    assert dates == sorted(dates)  # l'id croît avec le temps, dans tout le système
    for key, messages in truth["messages"].items():
        status, _, body = ninja.get(f"/messages/{ninja.quote(key)}/", {"limit": 1000})
        assert status == 200 and body == {"items": messages, "count": len(messages)}
        assert [message["id"] for message in messages] == sorted(message["id"] for message in messages)
        assert all(message["conversation"] == key and message["author"] in ("CUS", "AGE") for message in messages)


def test_since_is_strict_and_count_is_before_the_page(ninja):
    messages = max(ninja.truth()["messages"].values(), key=len)
    key = messages[0]["conversation"]
    pivot = messages[120]["id"]
    status, _, body = ninja.get(f"/messages/{ninja.quote(key)}/", {"since": pivot})
    assert status == 200
    assert body["count"] == len(messages) - 121
    assert body["items"] == messages[121:221]  # limite par défaut : 100
    _, _, page = ninja.get(f"/messages/{ninja.quote(key)}/", {"since": pivot, "limit": 10, "offset": 100})
    assert page == {"items": messages[221:231], "count": len(messages) - 121}
    _, _, none = ninja.get(f"/messages/{ninja.quote(key)}/", {"since": messages[-1]["id"]})
    assert none == {"items": [], "count": 0}


def test_dataset_sizes_and_ties(ninja):
    truth = ninja.truth()["messages"]
    sizes = sorted(len(messages) for messages in truth.values())
    assert set(SPECIAL_COUNTS) <= set(sizes)  # vide, 1, 20, 21, 100, 101, 250
    assert sizes.count(0) >= 1 and max(sizes) > 200
    tied = [messages for messages in truth.values()
            if any(a["date"] == b["date"] for a, b in pairwise(messages))]
    assert tied, "des messages d'une même conversation doivent partager une date"


def test_token_required_when_configured(ninja):
    for headers in ({}, {"Authorization": "Bearer faux"}, {"Authorization": f"Basic {NINJA_TOKEN}"}):
        status, _, body = ninja.get("/conversation/", headers=headers)
        assert (status, body) == (401, {"detail": "Unauthorized"})
    assert ninja.get("/conversation/", headers={"Authorization": f"bearer {NINJA_TOKEN}"})[0] == 200


def test_no_token_when_started_without(ninja_sandbox_factory):
    standin = ninja_sandbox_factory(conversations=5, token="")
    assert standin.token is None and "NINJA_API_TOKEN" not in standin.env()
    assert standin.get("/conversation/", headers={})[0] == 200


def test_unknown_conversation_404_and_unknown_route(ninja):
    assert ninja.get("/messages/inconnue/")[::2] == (404, {"detail": "Not Found"})
    status, headers, body = ninja.get("/nulle-part/")
    assert status == 404 and headers["Content-Type"].startswith("text/html") and "Not Found" in body


_MALFORMED = [("limit", "abc", "int_parsing"), ("offset", "1.5", "int_parsing"), ("limit", "-1", "greater_than_equal"),
              ("offset", "-3", "greater_than_equal")]


@pytest.mark.parametrize("path,name,value,kind", [
    *(("/conversation/", *case) for case in _MALFORMED),
    *(("/messages/{key}/", *case) for case in _MALFORMED),
    ("/messages/{key}/", "since", "x", "int_parsing"), ("/messages/{key}/", "since", "-1", "greater_than_equal"),
])
def test_malformed_integers_give_422(ninja, path, name, value, kind):
    key = _key(ninja.truth()["conversations"][5])
    status, _, body = ninja.get(path.format(key=ninja.quote(key)), {name: value})
    assert status == 422
    assert [(error["type"], error["loc"]) for error in body["detail"]] == [(kind, ["query", name])]
    assert all(error["msg"] for error in body["detail"])


def test_missing_trailing_slash_redirects_301_keeping_query(ninja):
    key = _key(ninja.truth()["conversations"][3])
    status, headers, _ = ninja.get("/conversation", {"limit": 2, "offset": 4}, headers={})
    assert status == 301 and headers["Location"] == "/api/conversation/?limit=2&offset=4"
    status, headers, _ = ninja.get(f"/messages/{key}", {"since": 7})
    assert status == 301 and headers["Location"] == f"/api/messages/{key}/?since=7"


def test_id_instead_of_uuid_and_missing_updated(ninja_sandbox_factory):
    standin = ninja_sandbox_factory(conversations=30, id_ratio=0.5, no_updated_ratio=1)
    listed = _all_conversations(standin, 100)
    with_id = [item for item in listed if "id" in item]
    assert with_id and len(with_id) < len(listed)
    assert all(("uuid" in item) != ("id" in item) and "updated" not in item for item in listed)
    messages = standin.truth()["messages"]
    for item in with_id:
        status, _, body = standin.get(f"/messages/{item['id']}/")
        assert status == 200 and body["items"] == messages[item["id"]][:100]


def test_hostile_ids_are_served_encoded(ninja):
    listed = {_key(item) for item in ninja.get("/conversation/")[2]["items"]}
    assert set(HOSTILE_KEYS) <= listed and max(len(key) for key in HOSTILE_KEYS) == 300
    truth = ninja.truth()["messages"]
    for key in HOSTILE_KEYS:
        status, _, body = ninja.get(f"/messages/{ninja.quote(key)}/")
        assert status == 200 and body["items"] == truth[key] and body["items"]


def test_admin_append_create_and_truth(ninja_sandbox):
    truth = ninja_sandbox.truth()
    key = _key(truth["conversations"][0])
    top = max(message["id"] for messages in truth["messages"].values() for message in messages)
    added = ninja_sandbox.append(key, count=3)
    assert [message["id"] for message in added["messages"]] == [top + 1, top + 2, top + 3]
    assert added["conversation"]["updated"] == added["messages"][-1]["date"]
    _, _, body = ninja_sandbox.get(f"/messages/{key}/", {"since": top})
    assert body == {"items": added["messages"], "count": 3}
    created = ninja_sandbox.create(count=2, messages=4)
    _, _, listing = ninja_sandbox.get("/conversation/")
    assert listing["count"] == 32
    listed = {_key(item): item for item in listing["items"]}
    for conversation in created:
        assert listed[_key(conversation)] == conversation
    after = ninja_sandbox.truth()
    assert after["messages"][key] == truth["messages"][key] + added["messages"]
    assert len(after["messages"][_key(created[0])]) == 4


def test_same_seed_same_truth_between_processes(ninja):
    with start_standin("ninja", seed=3, conversations=40, token=NINJA_TOKEN, hostile_ids=True) as twin:
        assert twin.truth() == ninja.truth()
