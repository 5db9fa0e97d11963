"""Suppressions du bac à sable Crisp (conversation, message, profil), vérifiées en HTTP réel
contre un sous-processus : avant et après, 404 de l'API, listes qui raccourcissent et pages
qui remontent, vérité à jour, identifiants inconnus, le reste intact."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse

import pytest

from tests.support.sandbox_process import start_sandbox

PER_PAGE = 20
EVERYTHING = {"per_page": PER_PAGE, "include_empty": 1}


@pytest.fixture
def sandbox():
    """Bac à sable neuf pour chaque test : les suppressions ne se voient pas d'un test à l'autre."""
    with start_sandbox(seed=5, conversations=60) as running:
        yield running


def get(sandbox, path, params=None):
    """GET API décodé : (statut, enveloppe JSON)."""
    status, _, body = sandbox.api(path, params)
    return status, json.loads(body)


def site(sandbox, suffix, website=None):
    return f"/website/{website or sandbox.website_id}{suffix}"


def post_error(sandbox, path, payload=None):
    """POST d'administration qui doit échouer : (statut, corps JSON décodé)."""
    with pytest.raises(urllib.error.HTTPError) as raised:
        sandbox.admin(path, method="POST", json=payload)
    with raised.value as error:
        return error.code, json.loads(error.read().decode("utf-8"))


def walk(sandbox, params=EVERYTHING, website=None):
    """Toutes les pages de la liste des conversations, dans l'ordre : liste de pages."""
    pages, number = [], 1
    while True:
        status, body = get(sandbox, site(sandbox, f"/conversations/{number}", website), params)
        assert status == 200
        if not body["data"]:
            return pages
        pages.append(body["data"])
        number += 1


def ids(rows):
    return [row["session_id"] for row in rows]


def assert_not_found(status, body, namespace):
    """Même enveloppe d'erreur Crisp que pour tout identifiant inconnu."""
    assert status == 404
    assert body["error"] is True and body["reason"] == "not_found"
    assert body["data"]["namespace"] == namespace


# ----------------------------------------------------------------------------- conversation


def test_delete_conversation(sandbox):
    truth = sandbox.admin("/_admin/truth/conversations")
    counts = sandbox.admin("/_admin/truth/counts")
    profiles = {profile["people_id"] for profile in sandbox.admin("/_admin/truth/profiles")}
    pages = walk(sandbox)
    assert [row for page in pages for row in page] == truth and len(pages) == 3
    # Une conversation de la première page, avec messages et profil (qui doit rester).
    target = next(c for c in truth[3:PER_PAGE] if counts[c["session_id"]] > 0 and c["people_id"] in profiles)
    session = target["session_id"]
    others = [c for c in truth if c["session_id"] != session]
    other_messages = {c["session_id"]: sandbox.admin(f"/_admin/truth/messages/{c['session_id']}") for c in others[:5]}
    conversation_path = site(sandbox, f"/conversation/{session}")
    assert get(sandbox, conversation_path) == (200, {"error": False, "reason": "resolved", "data": target})
    assert get(sandbox, conversation_path + "/messages")[0] in (200, 206)

    deleted = sandbox.admin(f"/_admin/conversations/{session}/delete", method="POST")
    assert deleted == target

    assert_not_found(*get(sandbox, conversation_path), "conversation")
    assert_not_found(*get(sandbox, conversation_path + "/messages"), "conversation")
    assert post_error(sandbox, f"/_admin/conversations/{session}/messages") == (404, {"error": "conversation inconnue"})
    with pytest.raises(urllib.error.HTTPError) as raised:
        sandbox.admin(f"/_admin/truth/messages/{session}")
    raised.value.close()
    assert raised.value.code == 404

    # Liste : un de moins, la première page reprend la tête de la deuxième, et ainsi de suite.
    after = walk(sandbox)
    assert ids(after[0]) == [s for s in ids(pages[0]) if s != session] + ids(pages[1])[:1]
    assert ids(after[1]) == ids(pages[1])[1:] + ids(pages[2])[:1]
    assert [row for page in after for row in page] == others
    assert session not in ids(row for page in walk(sandbox, {"per_page": PER_PAGE}) for row in page)

    # Vérité : la même chose, et les comptes sans elle, dans l'ordre de la liste.
    assert sandbox.admin("/_admin/truth/conversations") == others
    assert sandbox.admin("/_admin/truth/counts") == {s: n for s, n in counts.items() if s != session}
    assert list(sandbox.admin("/_admin/truth/counts")) == ids(others)
    for other, messages in other_messages.items():
        assert sandbox.admin(f"/_admin/truth/messages/{other}") == messages

    # Le profil reste.
    status, body = get(sandbox, site(sandbox, f"/people/profile/{target['people_id']}"))
    assert status == 200 and body["data"]["people_id"] == target["people_id"]
    assert target["people_id"] in {p["people_id"] for p in sandbox.admin("/_admin/truth/profiles")}

    # Deux fois, ou inconnue : 404 en français.
    for unknown in (session, "session_inconnue"):
        assert post_error(sandbox, f"/_admin/conversations/{unknown}/delete") == (404, {"error": "conversation inconnue"})


def test_deleted_conversation_keeps_new_ones_unique(sandbox):
    """Une conversation créée après une suppression ne reprend pas l'identifiant supprimé."""
    truth = sandbox.admin("/_admin/truth/conversations")
    session = truth[-1]["session_id"]
    sandbox.admin(f"/_admin/conversations/{session}/delete", method="POST")
    created = sandbox.admin("/_admin/conversations", method="POST", json={"count": 2})
    listed = ids(sandbox.admin("/_admin/truth/conversations"))
    assert listed[:2] == ids(reversed(created)) and session not in listed
    assert len(listed) == len(set(listed)) == len(truth) + 1


# ----------------------------------------------------------------------------- message


def test_delete_message(sandbox):
    counts = sandbox.admin("/_admin/truth/counts")
    order = list(counts)
    session = next(s for s, n in counts.items() if n == 41)
    before = sandbox.admin(f"/_admin/truth/messages/{session}")
    conversation = next(c for c in sandbox.admin("/_admin/truth/conversations") if c["session_id"] == session)
    assert conversation["preview_message"]["fingerprint"] == before[-1]["fingerprint"]
    messages_path = site(sandbox, f"/conversation/{session}/messages")
    status, body = get(sandbox, messages_path)
    assert status == 206 and body["data"] == before[1:]
    other = next(s for s in order if s != session and counts[s] > 0)
    other_before = sandbox.admin(f"/_admin/truth/messages/{other}")

    newest, middle = before[-1], before[20]
    assert sandbox.admin(f"/_admin/conversations/{session}/messages/{newest['fingerprint']}/delete", method="POST") == newest
    assert sandbox.admin(f"/_admin/conversations/{session}/messages/{middle['fingerprint']}/delete", method="POST") == middle
    remaining = [m for m in before if m["fingerprint"] not in (newest["fingerprint"], middle["fingerprint"])]

    # Routes des messages : 39 messages, un seul lot (200) ; vérité et comptes à jour.
    assert get(sandbox, messages_path) == (200, {"error": False, "reason": "success", "data": remaining})
    assert sandbox.admin(f"/_admin/truth/messages/{session}") == remaining
    counts_after = sandbox.admin("/_admin/truth/counts")
    assert counts_after == {**counts, session: 39} and list(counts_after) == order

    # La conversation : aperçu sur le message précédent, dernière activité inchangée.
    status, body = get(sandbox, site(sandbox, f"/conversation/{session}"))
    assert status == 200
    assert body["data"]["preview_message"]["fingerprint"] == remaining[-1]["fingerprint"]
    assert body["data"]["active"]["last"] == conversation["active"]["last"]
    assert body["data"]["updated_at"] == conversation["updated_at"]
    assert sandbox.admin(f"/_admin/truth/messages/{other}") == other_before

    # Déjà supprimé, empreinte inconnue ou d'une autre conversation, session inconnue : 404.
    error = (404, {"error": "conversation ou message inconnu"})
    for path in (
        f"/_admin/conversations/{session}/messages/{newest['fingerprint']}/delete",
        f"/_admin/conversations/{session}/messages/123/delete",
        f"/_admin/conversations/{session}/messages/{other_before[0]['fingerprint']}/delete",
        f"/_admin/conversations/session_inconnue/messages/{newest['fingerprint']}/delete",
    ):
        assert post_error(sandbox, path) == error
    edit = f"/_admin/conversations/{session}/messages/{middle['fingerprint']}/edit"
    assert post_error(sandbox, edit, {"content": "trop tard"}) == error
    assert sandbox.admin(f"/_admin/truth/messages/{session}") == remaining


def test_delete_only_message_empties_the_conversation(sandbox):
    counts = sandbox.admin("/_admin/truth/counts")
    session = next(s for s, n in counts.items() if n == 1)
    assert session in ids(row for page in walk(sandbox, {"per_page": PER_PAGE}) for row in page)
    (message,) = sandbox.admin(f"/_admin/truth/messages/{session}")
    sandbox.admin(f"/_admin/conversations/{session}/messages/{message['fingerprint']}/delete", method="POST")

    assert sandbox.admin("/_admin/truth/counts")[session] == 0
    status, body = get(sandbox, site(sandbox, f"/conversation/{session}"))
    assert status == 200 and body["data"]["last_message"] == "" and "preview_message" not in body["data"]
    assert get(sandbox, site(sandbox, f"/conversation/{session}/messages")) == (
        200, {"error": False, "reason": "success", "data": []})
    # Vide : hors de la liste par défaut, encore là avec include_empty.
    assert session not in ids(row for page in walk(sandbox, {"per_page": PER_PAGE}) for row in page)
    assert session in ids(row for page in walk(sandbox) for row in page)


# ----------------------------------------------------------------------------- profil


def test_delete_profile(sandbox):
    truth = sandbox.admin("/_admin/truth/profiles")
    conversations = sandbox.admin("/_admin/truth/conversations")
    assert len(truth) > PER_PAGE  # au moins deux pages de profils
    status, first = get(sandbox, site(sandbox, "/people/profiles/1"), {"per_page": PER_PAGE})
    assert status == 200 and first["data"] == truth[:PER_PAGE]
    target = next(p for p in truth[1:PER_PAGE] if p["people_id"] in {c["people_id"] for c in conversations})
    by_id = site(sandbox, f"/people/profile/{target['people_id']}")
    by_email = site(sandbox, "/people/profile/" + urllib.parse.quote(target["email"], safe=""))
    assert get(sandbox, by_id)[1]["data"] == get(sandbox, by_email)[1]["data"] == target

    # Par e-mail : refusé (la route prend un people_id).
    assert post_error(sandbox, "/_admin/profiles/" + urllib.parse.quote(target["email"], safe="") + "/delete") == (
        404, {"error": "profil inconnu"})
    assert sandbox.admin("/_admin/truth/profiles") == truth

    assert sandbox.admin(f"/_admin/profiles/{target['people_id']}/delete", method="POST") == target

    assert_not_found(*get(sandbox, by_id), "people")
    assert_not_found(*get(sandbox, by_email), "people")
    remaining = [p for p in truth if p["people_id"] != target["people_id"]]
    assert sandbox.admin("/_admin/truth/profiles") == remaining
    status, first = get(sandbox, site(sandbox, "/people/profiles/1"), {"per_page": PER_PAGE})
    assert status == 200 and first["data"] == remaining[:PER_PAGE]  # la 2e page remonte d'un rang
    assert first["data"][-1] == truth[PER_PAGE]
    # Ses conversations restent, intactes.
    assert sandbox.admin("/_admin/truth/conversations") == conversations

    for unknown in (target["people_id"], "00000000-0000-4000-8000-000000000000"):
        assert post_error(sandbox, f"/_admin/profiles/{unknown}/delete") == (404, {"error": "profil inconnu"})


# ----------------------------------------------------------------------------- plusieurs sites


def test_deletions_follow_website_query():
    with start_sandbox(seed=9, conversations=12, websites=2) as sandbox:
        main, second = sandbox.websites
        query = f"?website={second}"
        main_truth = sandbox.admin("/_admin/truth/conversations")
        main_profiles = sandbox.admin("/_admin/truth/profiles")
        truth = sandbox.admin("/_admin/truth/conversations" + query)
        counts = sandbox.admin("/_admin/truth/counts" + query)
        session = next(s for s, n in counts.items() if n > 0)
        assert session not in ids(main_truth)
        # Sans ?website, c'est le premier site : la conversation de l'autre y est inconnue.
        assert post_error(sandbox, f"/_admin/conversations/{session}/delete") == (404, {"error": "conversation inconnue"})
        message = sandbox.admin(f"/_admin/truth/messages/{session}{query}")[0]

        path = f"/_admin/conversations/{session}/messages/{message['fingerprint']}/delete"
        assert post_error(sandbox, path) == (404, {"error": "conversation ou message inconnu"})
        assert sandbox.admin(path + query, method="POST") == message
        assert sandbox.admin("/_admin/truth/counts" + query)[session] == counts[session] - 1

        deleted = sandbox.admin(f"/_admin/conversations/{session}/delete{query}", method="POST")
        assert deleted["session_id"] == session and deleted["website_id"] == second
        assert sandbox.admin("/_admin/truth/conversations" + query) == [c for c in truth if c["session_id"] != session]
        assert_not_found(*get(sandbox, site(sandbox, f"/conversation/{session}", second)), "conversation")

        profile = sandbox.admin("/_admin/truth/profiles" + query)[0]
        assert profile not in main_profiles
        assert post_error(sandbox, f"/_admin/profiles/{profile['people_id']}/delete") == (404, {"error": "profil inconnu"})
        assert sandbox.admin(f"/_admin/profiles/{profile['people_id']}/delete{query}", method="POST") == profile
        assert_not_found(*get(sandbox, site(sandbox, f"/people/profile/{profile['people_id']}", second)), "people")

        # Le premier site n'a pas bougé ; un site inconnu répond 404.
        assert sandbox.admin("/_admin/truth/conversations") == main_truth
        assert sandbox.admin("/_admin/truth/profiles") == main_profiles
        assert post_error(sandbox, f"/_admin/conversations/{main_truth[0]['session_id']}/delete?website=inconnu") == (
            404, {"error": "site inconnu : inconnu"})
        assert sandbox.admin("/_admin/truth/conversations") == main_truth
        assert main in sandbox.websites
