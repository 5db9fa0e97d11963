"""Recette de l'export des messages : vrais crawls contre le bac à sable, comparés à sa vérité."""

from __future__ import annotations

import json
import os
import signal
import time

import pytest

from tests.support.crawling import read_jsonl, run_crawl, start_crawl
from tests.support.messages_support import (
    assert_matches_truth,
    calls_by_session,
    messages_file,
    minimum_calls,
    snapshot,
    write_conversations,
)


def state_of(data_dir):
    path = data_dir / "conversations" / "messages" / "messages.jsonl.state.json"
    return json.loads(path.read_text())


@pytest.mark.parametrize("concurrent_items", [None, 100])
def test_full_export_equals_truth(sandbox, data_dir, concurrent_items):
    """Exact, et sans dépendre de CONCURRENT_ITEMS (1 par défaut pour le CPU seulement)."""
    conversations = write_conversations(sandbox, data_dir)
    ids = [c["session_id"] for c in conversations]
    settings = {"CONCURRENT_ITEMS": concurrent_items} if concurrent_items else None
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100}, settings=settings)
    assert result.returncode == 0, result.log[-3000:]
    assert result.reason == "finished"
    assert_matches_truth(sandbox, data_dir, ids)
    assert result.stats["messages/files"] == len(ids)
    assert "Récapitulatif messages" in result.log
    assert "Fichiers .jsonl de conversation dans" in result.log
    # Économie d'appels : le minimum, plus au plus un appel de chevauchement par conversation
    # longue (la milliseconde du plus ancien message est redemandée pour ne rien perdre).
    calls = sandbox.admin("/_admin/stats")["calls"]
    long_ones = sum(1 for i in ids if len(sandbox.admin(f"/_admin/truth/messages/{i}")) > 40)
    assert minimum_calls(sandbox, ids) <= calls <= minimum_calls(sandbox, ids) + long_ones
    assert result.stats["crisp_api/requests"] == calls


def test_second_run_makes_no_call_and_verify_rereads_each_conversation_completely(
        sandbox, data_dir):
    """Rien de nouveau : 0 appel de messages, aucun fichier touché. -a verify=1 : chaque
    conversation relue jusqu'à son premier message (issue 21 : c'est ainsi qu'un message
    supprimé chez Crisp se voit), au minimum d'appels, toujours sans rien changer."""
    conversations = write_conversations(sandbox, data_dir)
    assert run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100}).returncode == 0
    before = snapshot(data_dir / "conversations" / "messages")
    sandbox.admin("/_admin/stats/reset", method="POST")
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100})
    assert result.returncode == 0, result.log[-3000:]
    assert calls_by_session(sandbox) == {}
    assert result.stats["messages/unchanged"] == len(conversations)
    assert snapshot(data_dir / "conversations" / "messages") == before
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100, "verify": 1})
    assert result.returncode == 0, result.log[-3000:]
    calls = calls_by_session(sandbox)
    assert sorted(calls) == sorted(c["session_id"] for c in conversations)
    for session_id, made in calls.items():
        batches = minimum_calls(sandbox, [session_id])
        # Au plus un lot de chevauchement (la milliseconde du plus ancien est redemandée).
        assert batches <= made <= batches + 1, session_id
    assert max(calls.values()) > 1  # des conversations longues, vraiment relues en entier
    assert result.stats["messages/selected_verify"] == len(conversations)
    assert "removed/messages" not in result.stats
    assert snapshot(data_dir / "conversations" / "messages") == before
    assert result.stats.get("messages/new", 0) == 0
    assert result.stats["messages/ignored_known"] > 0


def test_incremental_run_fetches_only_new_messages(sandbox, data_dir):
    conversations = write_conversations(sandbox, data_dir)
    ids = [c["session_id"] for c in conversations]
    assert run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100}).returncode == 0
    sizes = {i: len(sandbox.admin(f"/_admin/truth/messages/{i}")) for i in ids}
    # Des conversations longues : leurs lots sont pleins (206), l'arrêt anticipé compte.
    few = next(i for i in ids if 45 <= sizes[i] < 300)
    boundary = next(i for i in ids if sizes[i] >= 80 and i != few)
    sandbox.admin(f"/_admin/conversations/{few}/messages", method="POST", json={"count": 3})
    # Un groupe de 4 messages de la même milliseconde, puis 38 plus récents : le lot le plus
    # récent (40) coupe le groupe en deux ; un client naïf en perdrait deux.
    sandbox.admin(f"/_admin/conversations/{boundary}/messages", method="POST",
                  json={"count": 4, "same_ms": True})
    sandbox.admin(f"/_admin/conversations/{boundary}/messages", method="POST", json={"count": 38})
    # Ce que l'export des conversations aurait relevé : leur activité a changé.
    write_conversations(sandbox, data_dir)
    sandbox.admin("/_admin/stats/reset", method="POST")
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 1})
    assert result.returncode == 0, result.log[-3000:]
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 1})
    assert result.returncode == 0, result.log[-3000:]
    assert_matches_truth(sandbox, data_dir, ids)
    # Seules les deux conversations changées reçoivent des appels, au minimum sans perte ;
    # nb=1 compte les conversations qui reçoivent des appels, pas les inchangées.
    assert calls_by_session(sandbox) == {few: 1, boundary: 2}


def test_edited_message_replaces_stored_version(sandbox, data_dir):
    conversations = write_conversations(sandbox, data_dir)
    ids = [c["session_id"] for c in conversations]
    assert run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100}).returncode == 0
    target = next(i for i in ids if len(read_jsonl(messages_file(data_dir, i))) >= 3)
    fingerprint = read_jsonl(messages_file(data_dir, target))[1]["fingerprint"]
    sandbox.admin(f"/_admin/conversations/{target}/messages/{fingerprint}/edit", method="POST",
                  json={"content": "contenu modifié ✏️"})
    # Une modification ne change pas l'empreinte d'activité de la liste : une exécution
    # ordinaire ne la voit pas (données du bac à sable datées de 2025, hors de la fenêtre
    # de 7 jours) ; -a verify=1 la rapporte.
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100})
    assert result.returncode == 0 and result.stats.get("messages/updated", 0) == 0
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100, "verify": "oui"})
    assert result.returncode == 0
    assert result.stats["messages/updated"] == 1
    assert_matches_truth(sandbox, data_dir, [target])
    edited = [m for m in read_jsonl(messages_file(data_dir, target)) if m["fingerprint"] == fingerprint]
    assert len(edited) == 1 and edited[0]["content"] == "contenu modifié ✏️" and edited[0]["edited"]


def test_nb_cursor_wrap_and_reset(sandbox, data_dir):
    conversations = write_conversations(sandbox, data_dir)
    ids = [c["session_id"] for c in conversations]
    directory = data_dir / "conversations" / "messages"
    run = lambda **args: run_crawl("messages", data_dir, sandbox.env(), args=args)  # noqa: E731
    assert run(nb=12).returncode == 0
    assert sorted(p.stem for p in directory.glob("*.jsonl")) == sorted(ids[:12])
    assert state_of(data_dir)["next_index"] == 12
    assert run(nb="12").returncode == 0  # chaîne, comme la passe scrapyd
    assert sorted(p.stem for p in directory.glob("*.jsonl")) == sorted(ids[:24])
    sandbox.admin("/_admin/stats/reset", method="POST")
    # Les 6 dernières seulement : les 24 autres, inchangées, ne coûtent rien.
    assert run(nb=12).returncode == 0
    assert sorted(calls_by_session(sandbox)) == sorted(ids[24:])
    assert_matches_truth(sandbox, data_dir, ids)
    sandbox.admin("/_admin/stats/reset", method="POST")
    # Revérification limitée par nb : elle reprend au curseur et fait le tour.
    assert run(nb=12).returncode == 0 and calls_by_session(sandbox) == {}
    next_index = state_of(data_dir)["next_index"]
    assert run(nb=12, verify=1).returncode == 0
    order = ids[next_index:] + ids[:next_index]
    assert sorted(calls_by_session(sandbox)) == sorted(order[:12])
    assert state_of(data_dir)["next_index"] == ids.index(order[12])
    sandbox.admin("/_admin/stats/reset", method="POST")
    # reset : le curseur et les empreintes sont oubliés, tout est revérifié depuis le début.
    assert run(nb=2, reset="oui").returncode == 0
    assert sorted(calls_by_session(sandbox)) == sorted(ids[:2])
    assert state_of(data_dir)["next_index"] == 2
    assert len(list(directory.glob("*.jsonl"))) == len(ids)


def test_quota_stop_then_resume(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=2, conversations=30, quota=15)
    conversations = write_conversations(sandbox, data_dir)
    ids = [c["session_id"] for c in conversations]
    first = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100})
    assert first.returncode == 2, first.log[-3000:]
    assert first.reason == "quota"
    assert "Quota quotidien de l'API Crisp atteint" in first.log
    state = state_of(data_dir)
    assert state["next_index"] < len(ids)
    for path in (data_dir / "conversations" / "messages").glob("*.jsonl"):
        stored = read_jsonl(path)
        assert len({m["fingerprint"] for m in stored}) == len(stored)
    sandbox.admin("/_admin/quota/reset", method="POST")
    sandbox.admin("/_admin/faults", method="POST", json={"quota": 0})
    for _ in range(3):
        result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100})
        assert result.returncode == 0, result.log[-3000:]
        if not state_of(data_dir)["incomplete"]:
            break
    assert_matches_truth(sandbox, data_dir, ids)


def test_killed_run_then_resumed_loses_and_duplicates_nothing(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=3, conversations=30, latency_ms=150)
    conversations = write_conversations(sandbox, data_dir)
    ids = [c["session_id"] for c in conversations]
    directory = data_dir / "conversations" / "messages"
    process = start_crawl("messages", data_dir, sandbox.env(), args={"nb": 100},
                          settings={"CONCURRENT_REQUESTS": 2, "CONCURRENT_REQUESTS_PER_DOMAIN": 2})
    deadline = time.monotonic() + 60
    while len(list(directory.glob("*.jsonl"))) < 8 and time.monotonic() < deadline:
        time.sleep(0.02)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    assert len(list(directory.glob("*.jsonl"))) < len(ids), "le crawl a fini avant d'être tué"
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100})
    assert result.returncode == 0, result.log[-3000:]
    assert_matches_truth(sandbox, data_dir, ids)
    assert not list(directory.glob(".*.tmp")), "fichier temporaire abandonné"


def test_hostile_session_ids_never_escape_the_messages_directory(sandbox, data_dir, tmp_path):
    good = sandbox.admin("/_admin/truth/conversations")[:3]
    hostile = ["../evasion", "a/b", "..", ".cache", "x\u0000y", "/etc/passwd", "n" * 500,
               "session_ok/../../dehors", "C:\\\\Windows", ""]
    conversations = [*good, *({**good[0], "session_id": bad} for bad in hostile)]
    write_conversations(sandbox, data_dir, conversations)
    before = {p for p in tmp_path.rglob("*")}
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100})
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["messages/ignored_unsafe_ids"] == len(hostile) - 1  # "" : sans session_id
    assert result.stats["messages/ignored_invalid_lines"] == 1
    assert "ligne 4 ignorée" in result.log
    created = {p for p in tmp_path.rglob("*")} - before
    messages_dir = data_dir / "conversations" / "messages"
    # Pièces jointes : leur index (et son état) et leur répertoire, jamais ailleurs.
    files_dir = data_dir / "conversations" / "fichiers"
    index = {data_dir / "conversations" / name
             for name in ("fichiers.jsonl", "fichiers.jsonl.state.json")}
    assert all(p == messages_dir or p.parent == messages_dir or p.name.startswith(".stats-")
               or p in index or p.is_relative_to(files_dir) for p in created), created
    assert_matches_truth(sandbox, data_dir, [c["session_id"] for c in good])
    assert set(calls_by_session(sandbox)) == {c["session_id"] for c in good}


def test_malformed_and_wrapped_lines(sandbox, data_dir):
    good = sandbox.admin("/_admin/truth/conversations")[:4]
    path = data_dir / "conversations" / "conversations.jsonl"
    path.parent.mkdir(parents=True)
    lines = [json.dumps(good[0]), "pas du json {", json.dumps({"data": good[1]}),
             json.dumps({"meta": {}}), "", json.dumps(good[2]), json.dumps(good[0]),
             json.dumps(good[3])[:25]]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    original = path.read_bytes()
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100})
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["messages/ignored_invalid_lines"] == 3
    for number in (2, 4, 8):
        assert f"ligne {number} ignorée" in result.log
    # La ligne en double ne coûte aucun appel : reconnue en cours (doublon) ou déjà finie
    # (inchangée), selon le moment où la sélection, lue en flux, l'atteint.
    assert (result.stats.get("messages/ignored_duplicate_lines", 0)
            + result.stats.get("messages/unchanged", 0)) == 1
    assert calls_by_session(sandbox)[good[0]["session_id"]] == 1
    assert_matches_truth(sandbox, data_dir, [c["session_id"] for c in good[:3]])
    assert path.read_bytes() == original  # l'entrée n'est jamais modifiée


def test_continues_from_original_mess_py_files(sandbox, data_dir):
    conversations = write_conversations(sandbox, data_dir)
    assert run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100}).returncode == 0
    # État tel que l'écrivait mess.py : seulement next_index.
    state = data_dir / "conversations" / "messages" / "messages.jsonl.state.json"
    state.write_text(json.dumps({"next_index": 5}))
    sandbox.admin("/_admin/stats/reset", method="POST")
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 10})
    assert result.returncode == 0, result.log[-3000:]
    ids = [c["session_id"] for c in conversations]
    assert calls_by_session(sandbox) == {sid: 1 for sid in ids[5:15]}
    assert state_of(data_dir)["next_index"] == 15


def test_missing_conversations_file_is_a_clear_error(sandbox, data_dir):
    result = run_crawl("messages", data_dir, sandbox.env())
    assert result.returncode == 1
    assert result.reason == "input_error"
    assert "Fichier des conversations introuvable" in result.log
    assert list(data_dir.iterdir()) == []
    assert sandbox.admin("/_admin/stats")["calls"] == 0


def test_a_second_concurrent_export_refuses_to_start(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=3, conversations=30, latency_ms=100)
    write_conversations(sandbox, data_dir)
    directory = data_dir / "conversations" / "messages"
    first = start_crawl("messages", data_dir, sandbox.env(), args={"nb": 100},
                        settings={"CONCURRENT_REQUESTS": 1, "CONCURRENT_REQUESTS_PER_DOMAIN": 1})
    try:
        deadline = time.monotonic() + 60
        while not list(directory.glob("*.jsonl")) and time.monotonic() < deadline:
            time.sleep(0.02)
        second = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100})
        assert second.returncode == 1
        assert second.reason == "input_error"
        assert "Un autre export est déjà en cours pour ce site" in second.log
        assert second.stats.get("crisp_api/requests", 0) == 0
        assert first.poll() is None  # le premier continue seul
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()


def test_lookback_refreshes_recently_active_conversations_only(sandbox, data_dir):
    """Une modification ne bouge pas l'empreinte : la fenêtre CRISP_MESSAGES_LOOKBACK_DAYS
    redemande (un appel chacune) les conversations actives récemment, et elles seules."""
    conversations = write_conversations(sandbox, data_dir)
    assert run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100}).returncode == 0
    by_activity = sorted(conversations, key=lambda c: c["active"]["last"], reverse=True)
    recent = next(c for c in by_activity if c["active"]["last"] < by_activity[0]["active"]["last"]
                  and len(read_jsonl(messages_file(data_dir, c["session_id"]))) >= 2)
    old = next(c for c in by_activity
               if c["active"]["last"] < recent["active"]["last"] - 3 * 86_400_000
               and len(read_jsonl(messages_file(data_dir, c["session_id"]))) >= 2)
    for conversation in (recent, old):
        fingerprint = read_jsonl(messages_file(data_dir, conversation["session_id"]))[0]["fingerprint"]
        sandbox.admin(f"/_admin/conversations/{conversation['session_id']}/messages/"
                      f"{fingerprint}/edit", method="POST", json={"content": "modifié"})
    # La fenêtre couvre la conversation « récente » (à un jour près), pas l'ancienne.
    days = (time.time() * 1000 - recent["active"]["last"]) / 86_400_000 + 1
    window = [c["session_id"] for c in conversations
              if c["active"]["last"] >= time.time() * 1000 - days * 86_400_000]
    sandbox.admin("/_admin/stats/reset", method="POST")
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100},
                       settings={"CRISP_MESSAGES_LOOKBACK_DAYS": f"{days:.6f}"})
    assert result.returncode == 0, result.log[-3000:]
    assert sorted(calls_by_session(sandbox)) == sorted(window)
    assert result.stats["messages/selected_lookback"] == len(window)
    assert old["session_id"] not in window and recent["session_id"] in window
    assert result.stats["messages/updated"] == 1
    assert_matches_truth(sandbox, data_dir, [recent["session_id"]])


def test_state_of_older_versions_is_migrated_silently(sandbox, data_dir):
    """Un état sans empreintes (mess.py : next_index seul) : chaque conversation est revérifiée
    une fois, l'état gagne ses empreintes, et la relance suivante ne coûte plus rien."""
    conversations = write_conversations(sandbox, data_dir)
    assert run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100}).returncode == 0
    path = data_dir / "conversations" / "messages" / "messages.jsonl.state.json"
    path.write_text(json.dumps({"next_index": 0}), encoding="utf-8")
    sandbox.admin("/_admin/stats/reset", method="POST")
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100})
    assert result.returncode == 0, result.log[-3000:]
    assert set(calls_by_session(sandbox).values()) == {1}
    assert len(calls_by_session(sandbox)) == len(conversations)
    assert len(state_of(data_dir)["done"]) == len(conversations)
    sandbox.admin("/_admin/stats/reset", method="POST")
    assert run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100}).returncode == 0
    assert calls_by_session(sandbox) == {}


def test_deleted_file_is_exported_again(sandbox, data_dir):
    conversations = write_conversations(sandbox, data_dir)
    assert run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100}).returncode == 0
    victim = conversations[3]["session_id"]
    messages_file(data_dir, victim).unlink()
    sandbox.admin("/_admin/stats/reset", method="POST")
    assert run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100}).returncode == 0
    assert list(calls_by_session(sandbox)) == [victim]
    assert_matches_truth(sandbox, data_dir, [victim])


@pytest.mark.parametrize("spider", ["messages", "conversations", "users"])
def test_unknown_argument_is_refused_before_any_call(sandbox, data_dir, spider):
    write_conversations(sandbox, data_dir)
    result = run_crawl(spider, data_dir, sandbox.env(), args={"nbr": 5})
    assert result.returncode == 1
    assert result.reason == "bad_argument"
    assert "Argument inconnu : -a nbr" in result.log
    assert sandbox.admin("/_admin/stats")["calls"] == 0
