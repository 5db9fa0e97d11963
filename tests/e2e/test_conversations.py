"""Recette de l'export des conversations : vrais crawls contre le bac à sable, comparés à sa vérité."""

from __future__ import annotations

import json
import os
import random
import signal
import time

import pytest

from tests.support.crawling import read_jsonl, run_crawl, start_crawl


def conv_file(data_dir):
    return data_dir / "conversations" / "conversations.jsonl"


def state_file(data_dir):
    return data_dir / "conversations" / "conversations.jsonl.state.json"


def truth(sandbox):
    return sandbox.admin("/_admin/truth/conversations")


def list_calls(sandbox):
    return sandbox.admin("/_admin/stats")["by_kind"]["conversations"]


def reset_calls(sandbox):
    sandbox.admin("/_admin/stats/reset", method="POST")


def write_lines(path, objects, tail=""):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in objects) + tail,
                    encoding="utf-8")


def assert_unique_and_sorted(conversations):
    ids = [c["session_id"] for c in conversations]
    assert len(ids) == len(set(ids)), "session_id en double"
    keys = [(-c["active"]["last"], c["session_id"]) for c in conversations]
    assert keys == sorted(keys), "fichier mal trié"


def crawl(sandbox, data_dir, **args):
    # Ces recettes comptent des pages de 20 (la taille de la spécification) ; le défaut du
    # produit, 50, a son propre test.
    settings = {"CRISP_CONVERSATIONS_PER_PAGE": 20, **(args.pop("settings", None) or {})}
    return run_crawl("conversations", data_dir, sandbox.env(), args=args, settings=settings)


def test_default_page_size_is_50_to_spend_fewer_calls(sandbox, data_dir):
    result = run_crawl("conversations", data_dir, sandbox.env())
    assert result.returncode == 0, result.log[-3000:]
    assert list_calls(sandbox) == 2  # 30 conversations tiennent dans une page, puis la page vide
    assert json.loads(state_file(data_dir).read_text())["per_page"] == 50


# --- Export complet --------------------------------------------------------------------
def test_full_export_equals_truth(sandbox, data_dir):
    expected = truth(sandbox)
    result = crawl(sandbox, data_dir)
    assert result.returncode == 0, result.log[-3000:]
    assert result.reason == "finished"
    # Chaque conversation exactement une fois, objet identique, triée par active.last décroissant.
    assert read_jsonl(conv_file(data_dir)) == expected
    assert result.stats["conversations/exported"] == len(expected) == 30
    assert result.stats["conversations/total"] == 30
    # 2 pages de 20 + la page vide qui prouve la fin.
    assert list_calls(sandbox) == 3
    state = json.loads(state_file(data_dir).read_text())
    assert state["backfill_complete"] is True and state["page_number"] == 3
    assert "Conversations exportées : 30 ; ignorées car déjà présentes : 0" in result.log
    assert "contient désormais 30 conversations" in result.log
    assert "Page 1 (rattrapage) : 20 reçues, 20 nouvelles" in result.log


def test_second_run_reads_one_page_and_changes_nothing(sandbox, data_dir):
    assert crawl(sandbox, data_dir).returncode == 0
    before = conv_file(data_dir).read_bytes()
    reset_calls(sandbox)
    result = crawl(sandbox, data_dir)
    assert result.returncode == 0, result.log[-3000:]
    assert list_calls(sandbox) == 1
    assert conv_file(data_dir).read_bytes() == before
    assert result.stats.get("conversations/exported", 0) == 0
    assert result.stats["conversations/ignored_present"] == 20
    assert "Conversations exportées : 0 ; ignorées car déjà présentes : 20" in result.log


def test_per_page_and_include_empty_settings(sandbox, data_dir):
    counts = sandbox.admin("/_admin/truth/counts")
    expected = [c for c in truth(sandbox) if counts[c["session_id"]] > 0]
    assert len(expected) < 30  # le jeu de données contient des conversations vides
    result = crawl(sandbox, data_dir, settings={"CRISP_CONVERSATIONS_PER_PAGE": 50,
                                                "CRISP_CONVERSATIONS_INCLUDE_EMPTY": "False"})
    assert result.returncode == 0, result.log[-3000:]
    assert read_jsonl(conv_file(data_dir)) == expected
    assert list_calls(sandbox) == 2
    assert json.loads(state_file(data_dir).read_text())["per_page"] == 50


def test_invalid_per_page_is_refused_before_any_call(sandbox, data_dir):
    result = crawl(sandbox, data_dir, settings={"CRISP_CONVERSATIONS_PER_PAGE": 10})
    assert result.returncode == 1
    assert "CRISP_CONVERSATIONS_PER_PAGE=10 invalide" in result.log
    assert list_calls(sandbox) == 0
    assert not (data_dir / "conversations").exists()


# --- Dérive des pages --------------------------------------------------------------------
def test_small_runs_with_page_drift_export_every_conversation_once(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=7, conversations=60)
    rng = random.Random(7)
    mutations = updated = 0
    for run in range(40):
        # Taille de page changée en cours de route : la position est convertie, pas perdue.
        settings = {"CRISP_CONVERSATIONS_PER_PAGE": 20 if run < 4 else 50}
        result = crawl(sandbox, data_dir, nb=7, settings=settings)
        assert result.returncode == 0, result.log[-3000:]
        assert result.stats.get("conversations/exported", 0) <= 7
        updated += result.stats.get("conversations/updated", 0)
        assert_unique_and_sorted(read_jsonl(conv_file(data_dir)))
        state = json.loads(state_file(data_dir).read_text())
        if mutations < 6:
            # Entre deux exécutions : nouvelles conversations en haut de liste (les pages
            # glissent) et une ancienne conversation qui reprend vie (elle remonte en page 1).
            sandbox.admin("/_admin/conversations", method="POST", json={"count": 3})
            stored = [c["session_id"] for c in read_jsonl(conv_file(data_dir))]
            # Tour à tour une conversation déjà exportée (à remplacer) et une pas encore vue.
            pool = stored if mutations % 2 == 0 else [
                c["session_id"] for c in truth(sandbox) if c["session_id"] not in stored]
            woken = rng.choice(pool)
            sandbox.admin(f"/_admin/conversations/{woken}/messages", method="POST", json={"count": 1})
            mutations += 1
        elif state["backfill_complete"] and result.stats.get("conversations/exported", 0) == 0:
            break
    else:
        pytest.fail("l'export ne s'est pas terminé en 40 exécutions")
    got = read_jsonl(conv_file(data_dir))
    # Chaque conversation exactement une fois, et à jour (les réveillées ont été remplacées).
    assert got == truth(sandbox)
    assert len(got) == 60 + 6 * 3
    assert updated >= 3


def test_top_scan_cut_by_nb_is_resumed_below_page_one(sandbox, data_dir):
    assert crawl(sandbox, data_dir).returncode == 0
    sandbox.admin("/_admin/conversations", method="POST", json={"count": 25})
    # 25 nouvelles en haut : nb=20 prend exactement la page 1 et s'arrête.
    first = crawl(sandbox, data_dir, nb=20)
    assert first.returncode == 0, first.log[-3000:]
    assert first.stats["conversations/exported"] == 20
    reset_calls(sandbox)
    # La page 1 n'apporte plus rien, mais elle est au-dessus du filigrane : le balayage
    # continue et trouve les 5 dernières (une règle « page sans nouveauté = fin » les perdrait).
    second = crawl(sandbox, data_dir)
    assert second.returncode == 0, second.log[-3000:]
    assert second.stats["conversations/exported"] == 5
    assert read_jsonl(conv_file(data_dir)) == truth(sandbox)
    assert list_calls(sandbox) == 3


def test_activity_update_replaces_the_stored_conversation(sandbox, data_dir):
    assert crawl(sandbox, data_dir).returncode == 0
    oldest = truth(sandbox)[-1]["session_id"]
    sandbox.admin(f"/_admin/conversations/{oldest}/messages", method="POST", json={"count": 2})
    result = crawl(sandbox, data_dir)
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["conversations/updated"] == 1
    assert result.stats.get("conversations/exported", 0) == 0
    got = read_jsonl(conv_file(data_dir))
    assert got == truth(sandbox)
    assert got[0]["session_id"] == oldest
    assert "mises à jour : 1" in result.log


# --- Quota et reprise --------------------------------------------------------------------
def test_quota_stops_cleanly_and_next_run_resumes(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=3, conversations=50, quota=2)
    expected = truth(sandbox)
    result = crawl(sandbox, data_dir)
    assert result.returncode == 2, result.log[-3000:]
    assert result.reason == "quota"
    partial = read_jsonl(conv_file(data_dir))
    assert partial == expected[:40]  # deux pages complètes, triées
    assert json.loads(state_file(data_dir).read_text())["page_number"] == 3
    # Le lendemain : quota levé.
    sandbox.admin("/_admin/faults", method="POST", json={"quota": 0})
    result = crawl(sandbox, data_dir)
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["conversations/exported"] == 10
    assert read_jsonl(conv_file(data_dir)) == expected


def test_killed_crawl_keeps_complete_lines_and_next_run_finishes(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=4, conversations=80, latency_ms=400)
    path = conv_file(data_dir)
    process = start_crawl("conversations", data_dir, sandbox.env())
    try:
        deadline = time.monotonic() + 60
        while not (path.exists() and len(path.read_text(encoding="utf-8").splitlines()) >= 20):
            assert process.poll() is None and time.monotonic() < deadline, "crawl fini trop tôt"
            time.sleep(0.05)
    finally:
        # Arrêt brutal (pas de fermeture propre, pas de tri final).
        os.killpg(process.pid, signal.SIGKILL)
        process.communicate()
    survivors = read_jsonl(path)  # chaque ligne est complète
    assert 20 <= len(survivors) < 80
    assert len({c["session_id"] for c in survivors}) == len(survivors)
    sandbox.admin("/_admin/faults", method="POST", json={"latency_ms": 0})
    result = crawl(sandbox, data_dir)
    assert result.returncode == 0, result.log[-3000:]
    assert read_jsonl(path) == truth(sandbox)


# --- reset ---------------------------------------------------------------------------------
def test_reset_starts_over(sandbox, data_dir):
    expected = truth(sandbox)
    assert crawl(sandbox, data_dir).returncode == 0
    path = conv_file(data_dir)
    with open(path, "a", encoding="utf-8") as handle:
        handle.write(json.dumps({"session_id": "session_fantome", "active": {"last": 1}}) + "\n")
    state_file(data_dir).write_text("{ état illisible", encoding="utf-8")
    result = crawl(sandbox, data_dir, nb=10, reset=1)
    assert result.returncode == 0, result.log[-3000:]
    assert read_jsonl(path) == expected[:10]
    assert result.stats["conversations/exported"] == 10
    state = json.loads(state_file(data_dir).read_text())
    # Page 1 coupée par nb : elle sera redemandée, pas sautée.
    assert state["page_number"] == 1 and state["backfill_complete"] is False


# --- Fichiers existants ----------------------------------------------------------------------
@pytest.mark.parametrize("key", ["page_number", "next_page"])
def test_files_from_the_original_script_are_continued(sandbox_factory, data_dir, key):
    sandbox = sandbox_factory(seed=5, conversations=50)
    expected = truth(sandbox)
    # Ce qu'a laissé conv.py : deux pages, dans le désordre, certaines lignes enveloppées
    # {"data": {...}} (export plus ancien), une conversation en double sous les deux formes.
    lines = [{"data": c} if i % 3 == 0 else c for i, c in enumerate(expected[:40])]
    lines.append(expected[6])  # enveloppée plus haut (6 % 3 == 0), nue ici
    random.Random(5).shuffle(lines)
    write_lines(conv_file(data_dir), lines)
    state_file(data_dir).write_text(json.dumps({key: 3}), encoding="utf-8")
    result = crawl(sandbox, data_dir)
    assert result.returncode == 0, result.log[-3000:]
    assert read_jsonl(conv_file(data_dir)) == expected  # normalisé, unique, trié
    assert result.stats["conversations/exported"] == 10
    assert result.stats["conversations/present_before"] == 40
    state = json.loads(state_file(data_dir).read_text())
    # Reprise une page plus tôt que l'état d'origine (conv.py avance même sur une page
    # coupée par --nb), puis pages 2, 3, et la page 4 vide : historique complet.
    assert state["page_number"] == 4
    assert "next_page" not in state
    assert state["backfill_complete"] is True


def test_truncated_last_line_is_repaired(sandbox, data_dir):
    expected = truth(sandbox)
    fragment = json.dumps(expected[25], ensure_ascii=False)[:150]
    write_lines(conv_file(data_dir), expected[:25], tail=fragment)
    result = crawl(sandbox, data_dir)
    assert result.returncode == 0, result.log[-3000:]
    assert "est tronquée" in result.log
    assert result.stats["conversations/truncated_line_repaired"] == 1
    assert read_jsonl(conv_file(data_dir)) == expected
    assert result.stats["conversations/exported"] == 5


def test_unreadable_line_in_the_middle_is_refused(sandbox, data_dir):
    expected = truth(sandbox)
    path = conv_file(data_dir)
    write_lines(path, expected[:3])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("{pas du json\n" + json.dumps(expected[3]) + "\n")
    before = path.read_bytes()
    result = crawl(sandbox, data_dir)
    assert result.returncode == 1
    assert result.reason == "input_error"
    assert "la ligne 4" in result.log and "illisible" in result.log
    assert path.read_bytes() == before
    assert list_calls(sandbox) == 0


def test_corrupt_state_is_reported_and_untouched(sandbox, data_dir):
    write_lines(conv_file(data_dir), truth(sandbox)[:5])
    state_file(data_dir).write_text('{"page_number": 2', encoding="utf-8")
    result = crawl(sandbox, data_dir)
    assert result.returncode == 1
    assert result.reason == "input_error"
    assert "Fichier d'état des conversations corrompu" in result.log
    assert "-a reset=1" in result.log
    assert state_file(data_dir).read_text() == '{"page_number": 2'
    assert list_calls(sandbox) == 0


# --- Erreurs de configuration et de disque -----------------------------------------------------
def test_missing_credentials_create_nothing(sandbox, data_dir):
    env = {"CRISP_API_URL": sandbox.url}
    result = run_crawl("conversations", data_dir, env)
    assert result.returncode == 1
    assert result.reason == "config_error"
    assert "Identifiants Crisp manquants" in result.log
    assert list(data_dir.iterdir()) == []
    assert sandbox.admin("/_admin/stats")["calls"] == 0


def test_file_in_place_of_the_data_directory(sandbox, data_dir):
    blocker = data_dir / "conversations"
    blocker.write_text("à garder\n", encoding="utf-8")
    result = crawl(sandbox, data_dir, reset=1)
    assert result.returncode == 1
    assert "n'est pas un répertoire" in result.log
    assert blocker.read_text(encoding="utf-8") == "à garder\n"
    assert list_calls(sandbox) == 0


def test_directory_in_place_of_the_file(sandbox, data_dir):
    blocker = conv_file(data_dir)
    (blocker / "dedans").mkdir(parents=True)
    (blocker / "dedans" / "note.txt").write_text("à garder", encoding="utf-8")
    result = crawl(sandbox, data_dir, reset=1)
    assert result.returncode == 1
    assert "n'est pas un fichier" in result.log
    assert (blocker / "dedans" / "note.txt").read_text(encoding="utf-8") == "à garder"
    assert list_calls(sandbox) == 0


# --- Entrées et pages abîmées (trouvées par les épreuves) ---------------------------------------
def test_page_with_an_element_that_is_not_an_object_is_asked_again(sandbox_factory, data_dir):
    """Un élément qui n'est pas une conversation (panne passagère) : la page est redemandée,
    jamais marquée faite ; aucune conversation n'est perdue."""
    sandbox = sandbox_factory(seed=1, conversations=70)
    sandbox.admin("/_admin/faults", method="POST", json={"broken_message_ratio": 0.5})
    result = crawl(sandbox, data_dir, settings={"CRISP_RETRY_BASE_DELAY": "0.01", "RETRY_TIMES": 20})
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats.get("retry/reason_count/invalid_conversation", 0) >= 1
    sandbox.admin("/_admin/faults", method="POST", json={"broken_message_ratio": 0})
    assert read_jsonl(conv_file(data_dir)) == truth(sandbox)


def test_page_still_damaged_after_retries_fails_without_marking_it_done(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=1, conversations=30)
    sandbox.admin("/_admin/faults", method="POST", json={"broken_message_ratio": 1.0})
    result = crawl(sandbox, data_dir, settings={"CRISP_RETRY_BASE_DELAY": "0.01"})
    assert result.returncode == 1, result.log[-3000:]
    assert result.stats["crisp_api/failed"] == 1
    assert not conv_file(data_dir).exists() or read_jsonl(conv_file(data_dir)) == []
    state = json.loads(state_file(data_dir).read_text()) if state_file(data_dir).exists() else {}
    assert state.get("backfill_complete") is not True
    # La panne passée, une relance ordinaire exporte tout.
    sandbox.admin("/_admin/faults", method="POST", json={"broken_message_ratio": 0})
    assert crawl(sandbox, data_dir).returncode == 0
    assert read_jsonl(conv_file(data_dir)) == truth(sandbox)


def test_file_with_a_bom_and_a_latin1_byte_is_read_like_the_other_exports(sandbox, data_dir):
    """conversations lit le même fichier que messages et users, avec la même politique."""
    expected = truth(sandbox)
    path = conv_file(data_dir)
    write_lines(path, expected[:10])
    raw = path.read_bytes().replace(b'"session_id"', b'"note": "caf\xe9", "session_id"', 1)
    path.write_bytes(b"\xef\xbb\xbf" + raw)
    result = crawl(sandbox, data_dir)
    assert result.returncode == 0, result.log[-3000:]
    got = read_jsonl(path)
    assert [c["session_id"] for c in got] == [c["session_id"] for c in expected]
    # La ligne lue en latin-1 (la note « café », mais aussi les accents de meta, abîmés) diffère
    # de la liste pour la même version : la liste fait foi, la ligne est réparée.
    assert got == expected
