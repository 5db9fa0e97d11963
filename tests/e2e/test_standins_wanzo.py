"""Fidélité de la doublure wanzo (issue 11), en HTTP réel contre un sous-processus.

Le contrat : /chat/contexts (updated_at décroissant, total/limit/offset), messages par curseur
(page la plus ancienne sans curseur, after/before stricts, hasMore, nextCursor, id inconnu ->
400), jeton obligatoire, 404, horodatages ex aequo, ids opaques, dérive des pages, suppression.
"""

from __future__ import annotations

from itertools import pairwise
import pytest

from crispsandbox.standins.corpus import HOSTILE_KEYS
from crispsandbox.standins.process import start_standin

UNAUTHORIZED = {"error": "Unauthorized", "statusCode": 401}


@pytest.fixture(scope="module")
def wanzo():
    """Doublure wanzo en lecture seule (aucune mutation), avec identifiants hostiles."""
    with start_standin("wanzo", seed=5, conversations=40, hostile_ids=True) as running:
        yield running


def _messages_path(standin, key: str) -> str:
    return f"/chat/contexts/{standin.quote(key)}/messages"


def _page_with_after(standin, key: str, limit: int) -> tuple[list[dict], list[dict]]:
    """Toutes les pages en suivant after = dernier id reçu ; (messages, réponses)."""
    collected, answers, params = [], [], {"limit": limit}
    while True:
        status, _, body = standin.get(_messages_path(standin, key), params)
        assert status == 200
        answers.append(body)
        collected += body["messages"]
        if not body["hasMore"]:
            return collected, answers
        params = {"limit": limit, "after": body["messages"][-1]["id"]}


def test_contexts_most_recent_first_and_pages(wanzo):
    truth = wanzo.truth()["conversations"]
    assert len(truth) == 43
    for newer, older in pairwise(truth):
        assert (newer["updated_at"] > older["updated_at"]
                or (newer["updated_at"] == older["updated_at"] and newer["id"] < older["id"]))
    pages, offset = [], 0
    while offset < 43:
        status, _, body = wanzo.get("/chat/contexts", {"limit": 10, "offset": offset})
        assert status == 200 and (body["total"], body["limit"], body["offset"]) == (43, 10, offset)
        pages += body["contexts"]
        offset += 10
    assert pages == truth
    _, _, default = wanzo.get("/chat/contexts")
    assert default["limit"] == 20 and default["contexts"] == truth[:20]
    assert set(truth[0]) == {"id", "title", "created_at", "updated_at", "metadata", "messageCount", "lastMessage"}
    empty = [context for context in truth if context["messageCount"] == 0]
    assert empty and all(context["lastMessage"] is None for context in empty)


def test_messages_oldest_page_then_after_cursor_rebuilds_truth(wanzo):
    truth = wanzo.truth()
    for context in truth["conversations"]:
        expected = truth["messages"][context["id"]]
        collected, answers = _page_with_after(wanzo, context["id"], 20)
        assert collected == expected and len(expected) == context["messageCount"]
        for body, following in pairwise(answers):
            assert body["hasMore"] and body["nextCursor"] == following["messages"][0]["id"]
        assert answers[-1]["hasMore"] is False and answers[-1]["nextCursor"] is None
        if expected:
            assert context["lastMessage"] == {key: expected[-1][key] for key in ("content", "timestamp", "sender")}


def test_default_limit_20_and_message_fields(wanzo):
    truth = wanzo.truth()["messages"]
    key, messages = max(truth.items(), key=lambda item: len(item[1]))
    status, _, body = wanzo.get(_messages_path(wanzo, key))
    assert status == 200 and body["messages"] == messages[:20]
    assert body["hasMore"] is True and body["nextCursor"] == messages[20]["id"]
    assert all({"id", "content", "timestamp", "sender", "contextId"} <= set(message) for message in messages)
    assert {message["sender"] for message in messages} == {"user", "assistant"}
    assert any("likes" in message for message in messages) and "metadata" in messages[0]


def test_after_and_before_are_strict(wanzo):
    messages = max(wanzo.truth()["messages"].values(), key=len)
    key = messages[0]["contextId"]
    pivot = messages[50]["id"]
    _, _, after = wanzo.get(_messages_path(wanzo, key), {"limit": 5, "after": pivot})
    assert after["messages"] == messages[51:56] and after["nextCursor"] == messages[56]["id"]
    _, _, before = wanzo.get(_messages_path(wanzo, key), {"limit": 5, "before": pivot})
    assert before["messages"] == messages[45:50]
    assert before["hasMore"] is True and before["nextCursor"] == pivot
    _, _, window = wanzo.get(_messages_path(wanzo, key), {"limit": 50, "after": messages[10]["id"], "before": messages[14]["id"]})
    assert window["messages"] == messages[11:14]
    _, _, last = wanzo.get(_messages_path(wanzo, key), {"after": messages[-1]["id"]})
    assert last == {"messages": [], "hasMore": False, "nextCursor": None}


def test_ties_and_opaque_ids(wanzo):
    truth = wanzo.truth()["messages"]
    long_ones = [messages for messages in truth.values() if len(messages) > 20]
    # Ex aequo à cheval sur la frontière de la page de 20.
    assert all(messages[19]["timestamp"] == messages[20]["timestamp"] for messages in long_ones)
    ids = [message["id"] for message in max(long_ones, key=len)]
    assert sorted(ids) != ids and len(set(ids)) == len(ids)


def test_errors_400_404_401(wanzo):
    truth = wanzo.truth()["messages"]
    key = next(key for key, messages in truth.items() if messages)
    other = next(messages for k, messages in truth.items() if messages and k != key)
    for params in ({"after": "inconnu"}, {"before": other[0]["id"]}, {"limit": "0"}, {"limit": "abc"}):
        status, _, body = wanzo.get(_messages_path(wanzo, key), params)
        assert status == 400 and body["statusCode"] == 400, params
    status, _, body = wanzo.get(_messages_path(wanzo, "ctx-inconnu"))
    assert status == 404 and body["statusCode"] == 404
    for headers in ({}, {"Authorization": "Bearer faux"}):
        assert wanzo.get("/chat/contexts", headers=headers)[::2] == (401, UNAUTHORIZED)
        assert wanzo.get(_messages_path(wanzo, key), headers=headers)[::2] == (401, UNAUTHORIZED)


def test_hostile_ids(wanzo):
    truth = wanzo.truth()["messages"]
    for key in HOSTILE_KEYS:
        collected, _ = _page_with_after(wanzo, key, 20)
        assert collected == truth[key] and collected


def test_drift_moves_contexts_between_pages(wanzo_sandbox_factory):
    standin = wanzo_sandbox_factory(conversations=30, drift_every=1, drift_contexts=2)
    before = {context["id"]: context for context in standin.truth()["conversations"]}
    seen = []
    for offset in range(0, 30, 10):
        _, _, body = standin.get("/chat/contexts", {"limit": 10, "offset": offset})
        seen += [context["id"] for context in body["contexts"]]
    after = standin.truth()["conversations"]
    moved = [context for context in after if context["updated_at"] != before[context["id"]]["updated_at"]]
    assert len(moved) == 6  # 2 par liste, 3 listes
    assert all(context["messageCount"] == before[context["id"]]["messageCount"] + 1 for context in moved)
    assert [context["id"] for context in after[:2]] == [context["id"] for context in moved[:2]]
    # Paginer par offset pendant la dérive : des doublons et des absents.
    assert len(seen) == 30 and len(set(seen)) < 30 and set(seen) != set(before)
    assert standin.admin("/_admin/drift")["drifted"] == 6
    standin.drift(0)
    listed = [context["id"] for context in standin.get("/chat/contexts", {"limit": 100})[2]["contexts"]]
    assert listed == [context["id"] for context in standin.truth()["conversations"]]


def test_admin_append_moves_to_top_and_delete_gives_404(wanzo_sandbox):
    truth = wanzo_sandbox.truth()
    last = truth["conversations"][-1]
    added = wanzo_sandbox.append(last["id"], count=3, same_timestamp=True)
    stamps = {message["timestamp"] for message in added["messages"]}
    assert len(stamps) == 1
    _, _, body = wanzo_sandbox.get("/chat/contexts", {"limit": 1})
    top = body["contexts"][0]
    assert top["id"] == last["id"] and top["messageCount"] == last["messageCount"] + 3
    assert top["updated_at"] == stamps.pop() and top["lastMessage"]["content"] == added["messages"][-1]["content"]
    wanzo_sandbox.delete(last["id"])
    assert wanzo_sandbox.get(_messages_path(wanzo_sandbox, last["id"]))[0] == 404
    assert wanzo_sandbox.get(f"/chat/contexts/{last['id']}")[0] == 404
    _, _, listing = wanzo_sandbox.get("/chat/contexts", {"limit": 100})
    assert listing["total"] == 29 and last["id"] not in {context["id"] for context in listing["contexts"]}
    created = wanzo_sandbox.create(messages=2)[0]
    assert created["id"].startswith("ctx-") and created["messageCount"] == 2
    assert wanzo_sandbox.get("/chat/contexts", {"limit": 1})[2]["contexts"][0] == created
