"""Recette de l'export des profils : vrais crawls contre le bac à sable, comparés à sa vérité."""

from __future__ import annotations

import json
import os

import pytest

from tests.support.crawling import read_jsonl, run_crawl

NO_PROFILE = "sans.profil+test@exemple.fr"  # adresse remarquable du bac à sable, sans fiche


def users_file(data_dir):
    return data_dir / "utilisateurs" / "utilisateurs.jsonl"


def state_file(data_dir):
    return data_dir / "utilisateurs" / "utilisateurs.jsonl.state.json"


def people_calls(sandbox):
    return sandbox.admin("/_admin/stats")["by_kind"]["people"]


def reset_calls(sandbox):
    sandbox.admin("/_admin/stats/reset", method="POST")


def write_conversations(sandbox, data_dir, extra=()):
    """conversations.jsonl depuis la vérité ; une ligne sur quatre enveloppée {"data": {...}}."""
    conversations = sandbox.admin("/_admin/truth/conversations") + list(extra)
    path = data_dir / "conversations" / "conversations.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [{"data": c} if i % 4 == 1 else c for i, c in enumerate(conversations)]
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in lines),
                    encoding="utf-8")
    return conversations


def conversation_emails(conversations):
    """E-mails distincts (casefold) des conversations."""
    return {c["meta"]["email"].casefold() for c in conversations if c["meta"].get("email")}


def expected_profiles(sandbox, conversations):
    """Fiches attendues : celles des personnes des conversations, triées par e-mail (casefold)."""
    emails = conversation_emails(conversations)
    profiles = [p for p in sandbox.admin("/_admin/truth/profiles") if p["email"].casefold() in emails]
    return sorted(profiles, key=lambda p: p["email"].casefold())


def crawl(sandbox, data_dir, **args):
    return run_crawl("users", data_dir, sandbox.env(), args=args)


def all_files(root):
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


# --- Export complet ------------------------------------------------------------------------
def test_profiles_match_the_sandbox(sandbox, data_dir):
    conversations = write_conversations(sandbox, data_dir)
    expected = expected_profiles(sandbox, conversations)
    emails = conversation_emails(conversations)
    result = crawl(sandbox, data_dir, nb=100)
    assert result.returncode == 0, result.log[-3000:]
    got = read_jsonl(users_file(data_dir))
    assert got == expected  # objets exacts, un par e-mail, triés par e-mail (casefold)
    # Un seul appel par personne malgré les variantes de casse d'une conversation à l'autre.
    assert people_calls(sandbox) == len(emails) == len(expected) + 1
    assert result.stats["users/added"] == len(expected)
    assert result.stats["users/ignored_not_found"] == 1
    assert result.stats["users/total"] == len(expected)
    stored = {p["email"] for p in got}
    # Adresses à « + », Unicode et casse mélangée : demandées encodées, retrouvées telles quelles.
    assert {"José.Müller+crisp@exämple.fr", "ANNE.Dupont@Example.com", "zoë.łukasz@société.fr",
            "o'connor+vip@Mail.Example.org"} <= stored
    assert json.loads(state_file(data_dir).read_text())["not_found"] == [NO_PROFILE]
    assert "Pas de fiche pour sans.profil+test@exemple.fr (404)" in result.log
    assert f"Utilisateurs présents avant : 0 ; ajoutés : {len(expected)}." in result.log
    assert f"contient désormais {len(expected)} profils" in result.log


def test_second_run_asks_nothing_again(sandbox, data_dir):
    conversations = write_conversations(sandbox, data_dir)
    assert crawl(sandbox, data_dir, nb=100).returncode == 0
    before = users_file(data_dir).read_bytes()
    reset_calls(sandbox)
    result = crawl(sandbox, data_dir, nb=100)
    assert result.returncode == 0, result.log[-3000:]
    # Ni les profils présents ni l'e-mail sans fiche (retenu dans l'état) ne sont redemandés.
    assert people_calls(sandbox) == 0
    assert users_file(data_dir).read_bytes() == before
    assert result.stats["users/ignored_not_found_known"] == 1
    assert result.stats["users/ignored_present"] == len(conversation_emails(conversations)) - 1
    assert "dont 1 déjà connus (aucun appel)" in result.log


def test_nb_counts_added_profiles_and_runs_resume(sandbox, data_dir):
    conversations = write_conversations(sandbox, data_dir)
    expected = expected_profiles(sandbox, conversations)
    for _ in range(len(expected) + 1):
        before = len(read_jsonl(users_file(data_dir))) if users_file(data_dir).exists() else 0
        result = crawl(sandbox, data_dir, nb=4)
        assert result.returncode == 0, result.log[-3000:]
        got = read_jsonl(users_file(data_dir))
        # Exactement nb ajoutés tant qu'il en reste : l'e-mail sans fiche ne compte pas.
        assert len(got) == min(before + 4, len(expected))
        assert [p["email"].casefold() for p in got] == sorted(p["email"].casefold() for p in got)
        if result.stats.get("users/added", 0) == 0:
            break
    assert got == expected
    # Toutes les adresses parcourues : chaque personne demandée une seule fois en tout,
    # l'unique e-mail sans fiche compris (jamais d'appel pour un profil qu'on ne garderait pas).
    assert people_calls(sandbox) == len(expected) + 1
    assert json.loads(state_file(data_dir).read_text())["not_found"] == [NO_PROFILE]


# --- Fichiers existants ----------------------------------------------------------------------
def test_file_from_the_original_script_is_continued(sandbox, data_dir):
    conversations = write_conversations(sandbox, data_dir)
    expected = expected_profiles(sandbox, conversations)
    # Ce qu'a laissé users.py : l'enveloppe entière par ligne, dans le désordre, une même
    # personne deux fois sous deux casses, et une dernière ligne coupée par un arrêt brutal.
    envelopes = [{"error": False, "reason": "resolved", "data": p} for p in expected[:3]]
    shouting = dict(expected[1], email=expected[1]["email"].upper())
    lines = [envelopes[2], envelopes[0], {"error": False, "reason": "resolved", "data": shouting},
             envelopes[1]]
    truncated = json.dumps({"error": False, "reason": "resolved", "data": expected[3]})[:90]
    path = users_file(data_dir)
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(o, ensure_ascii=False) + "\n" for o in lines) + truncated,
                    encoding="utf-8")
    result = crawl(sandbox, data_dir, nb=100)
    assert result.returncode == 0, result.log[-3000:]
    assert "est tronquée" in result.log
    assert result.stats["users/present_before"] == 3
    # Normalisé en objets data, sans doublon, trié ; les trois profils connus pas redemandés.
    assert read_jsonl(path) == expected
    assert people_calls(sandbox) == len(conversation_emails(conversations)) - 3
    assert result.stats["users/added"] == len(expected) - 3


def test_reset_starts_over(sandbox, data_dir):
    conversations = write_conversations(sandbox, data_dir)
    expected = expected_profiles(sandbox, conversations)
    path = users_file(data_dir)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"email": "fantome@exemple.fr"}) + "\n", encoding="utf-8")
    # Un état qui prétend, à tort, qu'une personne n'a pas de fiche.
    state_file(data_dir).write_text(json.dumps({"not_found": [expected[0]["email"]]}),
                                    encoding="utf-8")
    result = crawl(sandbox, data_dir, nb=100, reset=1)
    assert result.returncode == 0, result.log[-3000:]
    assert read_jsonl(path) == expected
    assert json.loads(state_file(data_dir).read_text())["not_found"] == [NO_PROFILE]


# --- Entrées hostiles et erreurs ---------------------------------------------------------------
def test_emails_never_become_paths(sandbox, data_dir):
    template = sandbox.admin("/_admin/truth/conversations")[0]
    hostile = ["../../../evasion@exemple.fr", "a/b/../../c@exemple.fr", "..%2F..%2Fx@exemple.fr",
               "pas-une-adresse", ".."]
    extra = [dict(template, session_id=f"session_hostile_{i}", meta={**template["meta"], "email": e})
             for i, e in enumerate(hostile)]
    conversations = write_conversations(sandbox, data_dir, extra)
    result = crawl(sandbox, data_dir, nb=100)
    assert result.returncode == 0, result.log[-3000:]
    # Les trois « adresses » avec @ sont demandées (encodées) et inconnues ; les deux autres
    # ne sont même pas envoyées.
    assert result.stats["users/ignored_invalid_email"] == 2
    not_found = json.loads(state_file(data_dir).read_text())["not_found"]
    assert sorted(not_found) == sorted([NO_PROFILE] + [e.casefold() for e in hostile[:3]])
    assert people_calls(sandbox) == len(conversation_emails(conversations)) - 2
    # Rien d'autre que les fichiers attendus, où que ce soit autour du répertoire de données.
    assert all_files(data_dir.parent) == sorted([
        "data/conversations/conversations.jsonl",
        "data/utilisateurs/utilisateurs.jsonl",
        "data/utilisateurs/utilisateurs.jsonl.state.json",
    ])


def test_missing_conversations_file_creates_nothing(sandbox, data_dir):
    result = crawl(sandbox, data_dir)
    assert result.returncode == 1
    assert result.reason == "input_error"
    assert "Fichier des conversations introuvable" in result.log
    assert "Aucun fichier n'a été créé" in result.log
    assert list(data_dir.iterdir()) == []
    assert sandbox.admin("/_admin/stats")["calls"] == 0


def test_missing_credentials_create_nothing(sandbox, data_dir):
    write_conversations(sandbox, data_dir)
    result = run_crawl("users", data_dir, {"CRISP_API_URL": sandbox.url})
    assert result.returncode == 1
    assert "Identifiants Crisp manquants" in result.log
    assert not (data_dir / "utilisateurs").exists()
    assert sandbox.admin("/_admin/stats")["calls"] == 0


def test_corrupt_state_is_reported_and_untouched(sandbox, data_dir):
    write_conversations(sandbox, data_dir)
    state_file(data_dir).parent.mkdir(parents=True)
    state_file(data_dir).write_text('{"not_found": "tout le monde"}', encoding="utf-8")
    result = crawl(sandbox, data_dir)
    assert result.returncode == 1
    assert result.reason == "input_error"
    assert "Fichier d'état des utilisateurs inattendu" in result.log
    assert state_file(data_dir).read_text() == '{"not_found": "tout le monde"}'
    assert people_calls(sandbox) == 0


def test_file_in_place_of_the_output_directory(sandbox, data_dir):
    write_conversations(sandbox, data_dir)
    blocker = data_dir / "utilisateurs"
    blocker.write_text("à garder\n", encoding="utf-8")
    result = crawl(sandbox, data_dir, reset=1)
    assert result.returncode == 1
    assert "n'est pas un répertoire" in result.log
    assert blocker.read_text(encoding="utf-8") == "à garder\n"
    assert people_calls(sandbox) == 0


@pytest.mark.skipif(os.geteuid() == 0, reason="root écrit même dans un répertoire en lecture seule")
def test_read_only_output_directory(sandbox, data_dir):
    write_conversations(sandbox, data_dir)
    folder = data_dir / "utilisateurs"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        result = crawl(sandbox, data_dir)
    finally:
        folder.chmod(0o755)
    assert result.returncode == 1
    assert "n'est pas accessible en écriture" in result.log
    assert people_calls(sandbox) == 0
