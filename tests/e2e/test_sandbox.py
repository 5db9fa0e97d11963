"""Fidélité du bac à sable Crisp, vérifiée en HTTP réel contre un sous-processus."""

from __future__ import annotations

import http.client
import json
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from crispsandbox.dataset import Dataset
from tests.support.sandbox_process import ROOT, start_sandbox

BATCH = 40
TYPES = {"text", "note", "file", "animation", "audio", "carousel", "picker", "field", "event"}
MESSAGE_FIELDS = {
    "session_id", "website_id", "fingerprint", "timestamp", "type", "from", "origin", "content",
    "user", "stamped", "read", "delivered", "edited", "translated", "automated", "mentions",
    "preview", "references", "original", "properties",
}
CONVERSATION_FIELDS = {
    "session_id", "website_id", "state", "status", "created_at", "updated_at", "active", "meta",
    "participants", "unread", "people_id", "last_message", "preview_message", "assigned",
    "compose", "mentions", "availability", "is_blocked", "waiting_since", "verifications",
}


# ----------------------------------------------------------------------------- outils


@pytest.fixture(scope="module")
def sandbox():
    """Bac à sable en lecture seule (aucune mutation, aucune panne)."""
    with start_sandbox(seed=1, conversations=50) as running:
        yield running


@pytest.fixture(scope="module")
def _faulty():
    with start_sandbox(seed=7, conversations=12) as running:
        yield running


@pytest.fixture
def faulty(_faulty):
    """Bac à sable pour les pannes, remis aux options de lancement après chaque test."""
    _faulty.admin("/_admin/faults/reset", method="POST")
    _faulty.admin("/_admin/quota/reset", method="POST")
    yield _faulty
    _faulty.admin("/_admin/faults/reset", method="POST")


@pytest.fixture(scope="module")
def mutable():
    """Bac à sable dédié aux mutations."""
    with start_sandbox(seed=3, conversations=20) as running:
        yield running


def get(sandbox, path, params=None, **kwargs):
    """GET API décodé : (statut, enveloppe JSON)."""
    status, _, body = sandbox.api(path, params, **kwargs)
    return status, json.loads(body)


def site(sandbox, suffix):
    return f"/website/{sandbox.website_id}{suffix}"


def counts(sandbox):
    return sandbox.admin("/_admin/truth/counts")


def session_with(sandbox, count):
    return next(session for session, total in counts(sandbox).items() if total == count)


def messages_path(sandbox, session_id):
    return site(sandbox, f"/conversation/{session_id}/messages")


def page_naive(sandbox, session_id):
    """Client naïf : réutilise le plus ancien horodatage tel quel (strict)."""
    collected, before = [], None
    while True:
        status, body = get(sandbox, messages_path(sandbox, session_id), {"timestamp_before": before} if before else None)
        collected.extend(body["data"])
        if status == 200 or not body["data"]:
            return collected
        before = body["data"][0]["timestamp"]


def page_robust(sandbox, session_id):
    """Client correct : oldest + 1 et dédoublonnage par empreinte, garde-fou si un
    lot entier tient dans une seule milliseconde. Renvoie (messages, statuts)."""
    seen, statuses, before = {}, [], None
    while True:
        status, body = get(sandbox, messages_path(sandbox, session_id), {"timestamp_before": before} if before else None)
        statuses.append(status)
        batch = body["data"]
        for message in batch:
            seen[message["fingerprint"]] = message
        if status == 200 or len(batch) < BATCH:
            return sorted(seen.values(), key=lambda m: (m["timestamp"], m["fingerprint"])), statuses
        oldest = batch[0]["timestamp"]
        before = oldest if all(m["timestamp"] == oldest for m in batch) else oldest + 1


def raw(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


# ----------------------------------------------------------------------------- authentification, enveloppe


def test_auth_tier_and_website_errors(sandbox):
    path = site(sandbox, "/conversations/1")
    for headers in ({"X-Crisp-Tier": "plugin"}, {**sandbox.auth_headers(), "Authorization": "Basic " + "eDp5"}):
        status, body = get(sandbox, path, headers=headers)
        assert status == 401 and body["error"] is True and body["reason"] == "unauthorized"
        assert set(body["data"]) == {"namespace", "message"}
    headers = {k: v for k, v in sandbox.auth_headers().items() if k != "X-Crisp-Tier"}
    status, body = get(sandbox, path, headers=headers)
    assert (status, body["reason"]) == (403, "restricted_route_tier")
    status, body = get(sandbox, "/website/00000000-0000-4000-8000-000000000000/conversations/1")
    assert (status, body["reason"]) == (404, "not_subscribed")
    status, body = get(sandbox, site(sandbox, "/nope/route"))
    assert (status, body["reason"], body["error"]) == (404, "not_found", True)


def test_envelope_content_type_and_raw_unicode(sandbox):
    status, headers, body = sandbox.api(site(sandbox, "/conversations/1"), {"per_page": 50})
    assert status == 200 and headers["Content-Type"] == "application/json; charset=utf-8"
    envelope = json.loads(body)
    assert envelope["error"] is False and envelope["reason"] == "success" and isinstance(envelope["data"], list)
    assert "é".encode() in body and b"\\u00e9" not in body  # UTF-8 brut, pas d'échappement
    status, body = get(sandbox, site(sandbox, "/people/profile/" + urllib.parse.quote("anne.dupont@example.com", safe="")))
    assert status == 200 and body["reason"] == "resolved" and isinstance(body["data"], dict)


# ----------------------------------------------------------------------------- messages


def test_newest_batch_of_40_oldest_to_newest(sandbox):
    session = session_with(sandbox, 350)
    truth = sandbox.admin(f"/_admin/truth/messages/{session}")
    status, body = get(sandbox, messages_path(sandbox, session))
    assert status == 206 and body["reason"] == "success"
    assert body["data"] == truth[-BATCH:]
    keys = [(m["timestamp"], m["fingerprint"]) for m in body["data"]]
    assert keys == sorted(keys)


@pytest.mark.parametrize("count, status", [(0, 200), (1, 200), (40, 200), (41, 206)])
def test_first_batch_status_by_size(sandbox, count, status):
    got, body = get(sandbox, messages_path(sandbox, session_with(sandbox, count)))
    assert got == status and len(body["data"]) == min(count, BATCH)


def test_timestamp_before_is_strict_and_206_then_200(sandbox):
    session = session_with(sandbox, 80)
    truth = sandbox.admin(f"/_admin/truth/messages/{session}")
    for pivot in (truth[50], truth[45], truth[10], truth[0]):
        status, body = get(sandbox, messages_path(sandbox, session), {"timestamp_before": pivot["timestamp"]})
        older = [m for m in truth if m["timestamp"] < pivot["timestamp"]]
        assert body["data"] == older[-BATCH:]
        assert status == (206 if len(older) > BATCH else 200)
    status, body = get(sandbox, messages_path(sandbox, session), {"timestamp_before": truth[0]["timestamp"]})
    assert (status, body["data"]) == (200, [])


def test_message_errors(sandbox):
    status, body = get(sandbox, messages_path(sandbox, "session_inconnue"))
    assert (status, body["reason"]) == (404, "not_found")
    session = session_with(sandbox, 40)
    for bad in ("abc", "-5", "1.5", ""):
        status, body = get(sandbox, messages_path(sandbox, session) + "?timestamp_before=" + bad)
        assert (status, body["reason"]) == (400, "invalid_data"), bad


def test_boundary_trap_robust_paging_recovers_everything(sandbox):
    """oldest+1 + dédoublonnage retrouve tout ; le client naïf perd des messages."""
    total = counts(sandbox)
    for session, count in total.items():
        if count <= BATCH:
            continue
        truth = sandbox.admin(f"/_admin/truth/messages/{session}")
        robust, statuses = page_robust(sandbox, session)
        assert robust == truth
        assert statuses[-1] == 200 and set(statuses[:-1]) <= {206}
        if count in (41, 80, 350):
            # Le piège existe : le plus ancien du premier lot partage sa milliseconde
            # avec le message juste avant la frontière.
            assert truth[count - BATCH]["timestamp"] == truth[count - BATCH - 1]["timestamp"]
            naive = page_naive(sandbox, session)
            assert len({m["fingerprint"] for m in naive}) < count


# ----------------------------------------------------------------------------- conversations


def test_conversation_pages(sandbox):
    path = site(sandbox, "/conversations/{}")
    for params in ({"per_page": 19}, {"per_page": 51}, {"per_page": "abc"}):
        status, body = get(sandbox, path.format(1), params)
        assert (status, body["reason"]) == (400, "invalid_data")
    status, body = get(sandbox, path.format(0))
    assert (status, body["reason"]) == (400, "invalid_data")
    status, body = get(sandbox, path.format(1))
    assert status == 200 and len(body["data"]) == 20  # per_page par défaut

    def walk(include_empty):
        rows, page = [], 1
        while True:
            status, body = get(sandbox, path.format(page), {"per_page": 20, "include_empty": include_empty})
            assert status == 200
            if not body["data"]:
                return rows
            rows += body["data"]
            page += 1

    truth = sandbox.admin("/_admin/truth/conversations")
    total = counts(sandbox)
    with_empty = walk(1)
    assert with_empty == truth
    assert [c["session_id"] for c in walk(0)] == [c["session_id"] for c in truth if total[c["session_id"]] > 0]
    keys = [(-c["active"]["last"], c["session_id"]) for c in with_empty]
    assert keys == sorted(keys)
    assert len({c["session_id"] for c in with_empty}) == 50
    status, body = get(sandbox, path.format(99), {"per_page": 50})
    assert (status, body["data"]) == (200, [])


# ----------------------------------------------------------------------------- personnes


def test_people_profiles_by_email_and_uuid(sandbox):
    profiles = sandbox.admin("/_admin/truth/profiles")
    target = next(p for p in profiles if p["email"] == "José.Müller+crisp@exämple.fr")
    for email in ("José.Müller+crisp@exämple.fr", "JOSÉ.MÜLLER+CRISP@EXÄMPLE.FR", "josé.müller+crisp@exämple.fr"):
        status, body = get(sandbox, site(sandbox, "/people/profile/" + urllib.parse.quote(email, safe="")))
        assert status == 200 and body["data"] == target
    status, body = get(sandbox, site(sandbox, f"/people/profile/{target['people_id']}"))
    assert status == 200 and body["data"]["email"] == target["email"]
    for missing in ("sans.profil+test@exemple.fr", "00000000-0000-4000-8000-000000000000"):
        status, body = get(sandbox, site(sandbox, "/people/profile/" + urllib.parse.quote(missing, safe="")))
        assert (status, body["reason"]) == (404, "not_found")


# ----------------------------------------------------------------------------- jeu de données


def test_distribution_and_fields(sandbox):
    total = counts(sandbox)
    assert {0, 1, 40, 41, 80, 350} <= set(total.values())
    conversations = sandbox.admin("/_admin/truth/conversations")
    emails = [c["meta"].get("email") for c in conversations]
    assert None in emails  # meta.email parfois absent
    lowered = [e.lower() for e in emails if e]
    assert len(set(lowered)) < len(lowered)  # adresses partagées
    assert any(e != e.lower() for e in emails if e) and any("+" in e for e in emails if e)
    fingerprints, types, same_ms = [], set(), False
    for conversation in conversations:
        assert CONVERSATION_FIELDS <= set(conversation) or total[conversation["session_id"]] == 0
        assert conversation["session_id"].startswith("session_")
        messages = sandbox.admin(f"/_admin/truth/messages/{conversation['session_id']}")
        if messages:
            assert conversation["active"]["last"] == conversation["updated_at"] == messages[-1]["timestamp"]
            assert conversation["preview_message"]["fingerprint"] == messages[-1]["fingerprint"]
        for message in messages:
            assert set(message) == MESSAGE_FIELDS
            assert isinstance(message["content"], str) == (message["type"] in ("text", "note"))
            fingerprints.append(message["fingerprint"])
            types.add(message["type"])
        same_ms |= any(a["timestamp"] == b["timestamp"] for a, b in zip(messages, messages[1:], strict=False))
    assert types == TYPES and same_ms
    assert len(set(fingerprints)) == len(fingerprints)
    assert all(isinstance(f, int) and 10**14 <= f < 2**53 for f in fingerprints)


def test_python_ground_truth_matches_http(sandbox):
    # Les URL de fichiers pointent vers le serveur lui-même (port choisi au démarrage).
    media = sandbox.admin("/_admin/config")["media_url"]
    data = Dataset(seed=1, conversations=50, website_id=sandbox.website_id, media_base=media)
    assert data.conversations() == sandbox.admin("/_admin/truth/conversations")
    session = session_with(sandbox, 80)
    assert data.messages(session) == sandbox.admin(f"/_admin/truth/messages/{session}")
    assert any("😊" in m["content"] or "🙏" in m["content"] for s in data.session_ids() for m in data.messages(s) if isinstance(m["content"], str))


def test_determinism_between_processes(sandbox_factory):
    # Même base d'URL de fichiers pour tous : sinon seul le port (choisi au démarrage) diffère.
    media = "http://localhost:9/media"
    sandbox = sandbox_factory(seed=1, conversations=50, media_url=media)
    paths = ["/_admin/truth/conversations", "/_admin/truth/profiles"]
    paths += [f"/_admin/truth/messages/{session_with(sandbox, n)}" for n in (41, 350)]
    with start_sandbox(seed=1, conversations=50, media_url=media) as twin, \
            start_sandbox(seed=2, conversations=50, media_url=media) as other:
        for path in paths[:2]:
            assert raw(sandbox.base + path) == raw(twin.base + path)
            assert raw(sandbox.base + path) != raw(other.base + path)
        for path in paths[2:]:
            assert raw(sandbox.base + path) == raw(twin.base + path)
        assert sandbox.api(site(sandbox, "/conversations/2"))[2] == twin.api(site(twin, "/conversations/2"))[2]


# ----------------------------------------------------------------------------- compteurs, administration


def test_stats_count_calls(sandbox):
    sandbox.admin("/_admin/stats/reset", method="POST")
    session = session_with(sandbox, 41)
    get(sandbox, messages_path(sandbox, session))
    get(sandbox, messages_path(sandbox, session))
    get(sandbox, site(sandbox, "/conversations/1"))
    get(sandbox, site(sandbox, "/people/profile/inconnu%40example.com"))
    get(sandbox, site(sandbox, "/autre"))
    stats = sandbox.admin("/_admin/stats")
    assert stats["calls"] == 5
    assert stats["by_kind"] == {"messages": 2, "conversations": 1, "people": 1, "other": 1}
    assert stats["by_status"] == {"206": 2, "200": 1, "404": 2}
    assert stats["calls_by_session"] == {session: 2}
    assert sandbox.admin("/_admin/stats/reset", method="POST")["calls"] == 0


def test_admin_add_and_edit_messages(mutable):
    session = session_with(mutable, 41)
    before = mutable.admin(f"/_admin/truth/messages/{session}")
    added = mutable.admin(f"/_admin/conversations/{session}/messages", method="POST", json={"count": 3})
    assert len(added) == 3 and all(m["timestamp"] > before[-1]["timestamp"] for m in added)
    status, body = get(mutable, messages_path(mutable, session))
    assert status == 206 and body["data"][-3:] == added
    first = mutable.admin("/_admin/truth/conversations")[0]
    assert first["session_id"] == session and first["active"]["last"] == first["updated_at"] == added[-1]["timestamp"]
    assert first["preview_message"]["fingerprint"] == added[-1]["fingerprint"]

    burst = mutable.admin(f"/_admin/conversations/{session}/messages", method="POST", json={"count": 45, "same_ms": True})
    assert len({m["timestamp"] for m in burst}) == 1
    old = mutable.admin(f"/_admin/conversations/{session}/messages", method="POST",
                        json={"count": 2, "same_ms": True, "timestamp": before[0]["timestamp"]})
    truth = mutable.admin(f"/_admin/truth/messages/{session}")
    assert len(truth) == 41 + 3 + 45 + 2 and truth[0]["timestamp"] == old[0]["timestamp"]

    target = truth[5]
    edited = mutable.admin(f"/_admin/conversations/{session}/messages/{target['fingerprint']}/edit",
                           method="POST", json={"content": "Texte modifié ✏️"})
    assert edited["fingerprint"] == target["fingerprint"] and edited["edited"] is True
    assert edited["content"] == "Texte modifié ✏️"
    assert [m for m in mutable.admin(f"/_admin/truth/messages/{session}") if m["fingerprint"] == target["fingerprint"]] == [edited]

    for path, payload, code in (
        ("/_admin/conversations/session_inconnue/messages", {"count": 1}, 404),
        (f"/_admin/conversations/{session}/messages", {"count": 0}, 400),
        (f"/_admin/conversations/{session}/messages/123/edit", {"content": "x"}, 404),
    ):
        with pytest.raises(urllib.error.HTTPError) as error:
            mutable.admin(path, method="POST", json=payload)
        error.value.close()
        assert error.value.code == code


def test_admin_new_conversations_cause_page_drift(mutable):
    path, everything = site(mutable, "/conversations/{}"), {"include_empty": 1}
    _, page1 = get(mutable, path.format(1), everything)
    created = mutable.admin("/_admin/conversations", method="POST", json={"count": 3})
    assert len(created) == 3
    _, after = get(mutable, path.format(1), everything)
    assert [c["session_id"] for c in after["data"][:3]] == [c["session_id"] for c in reversed(created)]
    assert after["data"][3]["session_id"] == page1["data"][0]["session_id"]
    _, page2 = get(mutable, path.format(2), everything)
    assert page2["data"][0]["session_id"] == page1["data"][-3]["session_id"]  # dérive d'une page à l'autre
    assert counts(mutable)[created[0]["session_id"]] >= 1


# ----------------------------------------------------------------------------- pannes


def test_fault_options_roundtrip_and_validation(faulty):
    options = faulty.admin("/_admin/faults", method="POST", json={"latency_ms": 5, "error_rate": 0.25, "retry_after": 3})
    assert options["latency_ms"] == 5 and options["error_rate"] == 0.25 and options["retry_after"] == 3
    assert faulty.admin("/_admin/faults")["error_rate"] == 0.25
    for payload in ({"error_rate": 2}, {"nope": 1}, {"rate_limit_status": 500}, {"latency_ms": -1}):
        with pytest.raises(urllib.error.HTTPError) as error:
            faulty.admin("/_admin/faults", method="POST", json=payload)
        error.value.close()
        assert error.value.code == 400
    assert faulty.admin("/_admin/faults/reset", method="POST")["error_rate"] == 0


def test_latency_and_latency_spike(faulty):
    path = site(faulty, "/conversations/1")
    faulty.admin("/_admin/faults", method="POST", json={"latency_ms": 300})
    started = time.monotonic()
    assert get(faulty, path)[0] == 200
    assert time.monotonic() - started >= 0.29
    faulty.admin("/_admin/faults", method="POST", json={"latency_ms": 0, "latency_spike_ms": 1500, "latency_spike_ratio": 1})
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        faulty.api(path, timeout=0.3)


def test_connection_reset(faulty):
    faulty.admin("/_admin/stats/reset", method="POST")
    faulty.admin("/_admin/faults", method="POST", json={"reset_ratio": 1})
    with pytest.raises((ConnectionError, http.client.HTTPException, urllib.error.URLError)):
        faulty.api(site(faulty, "/conversations/1"))
    assert faulty.admin("/_admin/stats")["by_status"] == {"reset": 1}


def test_broken_responses(faulty):
    session = session_with(faulty, 41)
    path = messages_path(faulty, session)
    faulty.admin("/_admin/faults", method="POST", json={"truncated_ratio": 1})
    status, headers, body = faulty.api(path)
    assert status == 206 and int(headers["Content-Length"]) == len(body)
    with pytest.raises(ValueError):
        json.loads(body)
    faulty.admin("/_admin/faults", method="POST", json={"truncated_ratio": 0, "error_envelope_ratio": 1})
    status, body = get(faulty, path)
    assert status == 200 and body["error"] is True and body["reason"]
    faulty.admin("/_admin/faults", method="POST", json={"error_envelope_ratio": 0, "wrong_type_ratio": 1})
    assert isinstance(get(faulty, path)[1]["data"], dict)
    assert isinstance(get(faulty, site(faulty, "/conversations/1"))[1]["data"], dict)
    faulty.admin("/_admin/faults", method="POST", json={"wrong_type_ratio": 0, "broken_message_ratio": 1})
    status, body = get(faulty, path)
    assert len(body["data"]) == BATCH
    assert any("fingerprint" not in m or "timestamp" not in m for m in body["data"])


def test_server_errors(faulty):
    faulty.admin("/_admin/faults", method="POST", json={"error_rate": 1})
    statuses = {faulty.api(site(faulty, "/conversations/1"))[0] for _ in range(30)}
    assert statuses <= {500, 502, 503} and len(statuses) >= 2


def test_rate_limit_json_html_status_and_retry_after(faulty):
    path = site(faulty, "/conversations/1")

    def burst():
        return [faulty.api(path) for _ in range(3)]

    faulty.admin("/_admin/faults", method="POST", json={"rate_limit": 1, "non_json_429_ratio": 0})
    answers = burst()
    limited = [a for a in answers if a[0] == 429]
    assert answers[0][0] == 200 and limited
    status, headers, body = limited[0]
    assert json.loads(body)["reason"] and json.loads(body)["error"] is True and "Retry-After" not in headers

    faulty.admin("/_admin/faults", method="POST", json={"rate_limit": 1, "non_json_429_ratio": 1, "retry_after": 2})
    status, headers, body = burst()[-1]
    assert status == 429 and headers["Content-Type"].startswith("text/html") and headers["Retry-After"] == "2"
    with pytest.raises(ValueError):
        json.loads(body)

    faulty.admin("/_admin/faults", method="POST", json={"rate_limit": 1, "rate_limit_status": 420})
    assert burst()[-1][0] == 420
    faulty.admin("/_admin/faults", method="POST", json={"rate_limit": 0})
    assert {a[0] for a in burst()} == {200}


def test_quota_limit_exceeded(faulty):
    path = site(faulty, "/conversations/1")
    faulty.admin("/_admin/faults", method="POST", json={"quota": 3})
    assert [faulty.api(path)[0] for _ in range(3)] == [200, 200, 200]
    for _ in range(2):
        status, body = get(faulty, path)
        assert (status, body["reason"], body["error"]) == (423, "quota_limit_exceeded", True)
    assert faulty.admin("/_admin/faults")["quota_used"] == 3
    faulty.admin("/_admin/quota/reset", method="POST")
    assert get(faulty, path)[0] == 200


# ----------------------------------------------------------------------------- ligne de commande


def test_cli_fault_options_and_clean_stop():
    with start_sandbox(conversations=8, quota=2, rate_limit_status=420, non_json_429_ratio=0.25,
                       retry_after=4, error_rate=0.1, latency_ms=1, rate_limit=100) as running:
        options = running.admin("/_admin/faults")
        assert (options["quota"], options["rate_limit_status"], options["non_json_429_ratio"]) == (2, 420, 0.25)
        assert (options["retry_after"], options["error_rate"], options["latency_ms"], options["rate_limit"]) == (4, 0.1, 1, 100)
        assert running.url.endswith("/v1") and set(running.env()) == {
            "CRISP_IDENTIFIER_PROD", "CRISP_KEY_PROD", "ID_SITE_CRISP", "CRISP_API_URL"}
        running.process.terminate()
        assert running.process.wait(timeout=5) == 0
        output = running.logs()
    assert output.startswith(f"SANDBOX_URL={running.url}\n") and "Arrêt du bac à sable" in output


def test_cli_refuses_non_loopback_host():
    result = subprocess.run(
        [sys.executable, "-m", "crispsandbox", "--host", "0.0.0.0", "--port", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=20,
    )
    assert result.returncode == 2 and "boucle locale" in result.stderr


def test_fault_plan_over_http_gives_each_fault_and_survives_api_errors(faulty):
    """Plan de pannes par POST /_admin/faults, appels HTTP réels : un 404 de l'API ne consomme
    pas la panne planifiée (elle va à l'appel suivant) ; chaque panne arrive dans l'ordre."""
    faulty.admin("/_admin/faults", method="POST",
                 json={"fault_plan": ["error_envelope", "error_503", "wrong_type"]})
    session = next(iter(counts(faulty)))
    assert get(faulty, messages_path(faulty, "session_inconnue"))[0] == 404
    assert faulty.admin("/_admin/faults")["fault_plan_left"] == 3
    status, body = get(faulty, messages_path(faulty, session))
    assert (status, body["error"], body["reason"]) == (200, True, "internal_error")
    status, _, _ = faulty.api(messages_path(faulty, session))
    assert status == 503
    status, body = get(faulty, messages_path(faulty, session))
    assert status in (200, 206) and isinstance(body["data"], dict)  # liste emballée
    assert faulty.admin("/_admin/faults")["fault_plan_left"] == 0
    status, body = get(faulty, messages_path(faulty, session))
    assert status in (200, 206) and isinstance(body["data"], list)
