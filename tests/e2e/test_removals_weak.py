"""Jamais de suppression sur une preuve faible (issue 21) : crawls réels contre le bac à sable.

Une conversation est vraiment supprimée dans le bac à sable, puis chaque exécution tombe sur
une autre réponse que le 404 de la conversation elle-même : identifiants refusés (401),
erreurs 5xx, délais dépassés, page de liste vide par erreur. Rien ne doit alors quitter
l'export ni le registre ; une fois la panne passée, la suppression est bien vue.
(L'URL fausse et l'autre site : tests/e2e/test_removals.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.support.crawling import read_jsonl, run_crawl


def tree(data_dir: Path) -> dict[str, bytes]:
    """Chaque fichier de l'export, sauf les états (la reprise peut y noter un échec)."""
    return {str(p.relative_to(data_dir)): p.read_bytes() for p in data_dir.rglob("*")
            if p.is_file() and not p.name.endswith(".state.json")}


@pytest.fixture
def deleted(sandbox_factory, data_dir):
    """Un compte exporté, puis sa conversation la plus ancienne supprimée chez « Crisp »."""
    sandbox = sandbox_factory(seed=4, conversations=15)
    assert run_crawl("account", data_dir, sandbox.env(), timeout=300).returncode == 0
    listing = read_jsonl(data_dir / "conversations" / "conversations.jsonl")
    gone = listing[-1]["session_id"]
    sandbox.admin(f"/_admin/conversations/{gone}/delete", method="POST")
    return sandbox, gone, tree(data_dir)


def assert_nothing_removed(data_dir: Path, before: dict, gone: str, result) -> None:
    """Rien n'a quitté l'export : pas de registre, chaque fichier qui nommait la conversation
    la nomme encore, sa ligne et son fichier de messages sont intacts, aucun fichier perdu.
    (Un échec peut être noté ailleurs, par exemple dans l'index des pièces jointes.)"""
    assert not (data_dir / "suppressions.jsonl").exists(), result.log[-2000:]
    assert "removed/conversations" not in result.stats
    after = tree(data_dir)
    assert set(before) <= set(after)
    for name, content in before.items():
        if gone.encode() in content:
            assert gone.encode() in after[name], name
    for name in ("conversations/conversations.jsonl", f"conversations/messages/{gone}.jsonl"):
        assert after[name] == before[name], name


def test_refused_credentials_remove_nothing(deleted, data_dir):
    sandbox, gone, before = deleted
    env = {**sandbox.env(), "CRISP_KEY_PROD": "pas-la-bonne-cle"}
    result = run_crawl("messages", data_dir, env, args={"verify": 1, "nb": 100})
    assert result.reason == "unauthorized", result.log[-2000:]
    assert_nothing_removed(data_dir, before, gone, result)


def test_server_errors_remove_nothing_then_the_removal_is_seen(deleted, data_dir):
    sandbox, gone, before = deleted
    sandbox.admin("/_admin/faults", method="POST", json={"error_rate": 1.0})
    result = run_crawl("messages", data_dir, sandbox.env(), args={"verify": 1, "nb": 100},
                       settings={"RETRY_TIMES": 1, "CRISP_RETRY_BASE_DELAY": 0.01})
    assert result.stats.get("crisp_api/failed", 0) > 0, result.log[-2000:]
    assert_nothing_removed(data_dir, before, gone, result)
    sandbox.admin("/_admin/faults/reset", method="POST")
    again = run_crawl("messages", data_dir, sandbox.env(), args={"verify": 1, "nb": 100})
    assert again.returncode == 0, again.log[-2000:]
    assert [r["id"] for r in read_jsonl(data_dir / "suppressions.jsonl")] == [gone]


def test_timeouts_remove_nothing(deleted, data_dir):
    sandbox, gone, before = deleted
    sandbox.admin("/_admin/faults", method="POST", json={"latency_ms": 1500})
    result = run_crawl("messages", data_dir, sandbox.env(), args={"verify": 1, "nb": 100},
                       settings={"DOWNLOAD_TIMEOUT": 0.3, "RETRY_TIMES": 0})
    assert result.returncode != 0 or result.stats.get("crisp_api/failed", 0) > 0, \
        result.log[-2000:]
    assert_nothing_removed(data_dir, before, gone, result)


def test_an_empty_list_page_by_mistake_removes_nothing(deleted, data_dir):
    """Page 1 de la liste rendue vide (200) pendant un recensement : toute la liste semble
    « finie » et toutes les conversations connues « absentes ». Une liste qui n'en montre
    aucune n'est pas une preuve : rien n'est vérifié ni supprimé, et l'avertissement le dit."""
    sandbox, gone, before = deleted
    sandbox.admin("/_admin/stats/reset", method="POST")
    sandbox.admin("/_admin/faults", method="POST", json={"fault_plan": ["empty_list"]})
    result = run_crawl("conversations", data_dir, sandbox.env(), args={"census": 1})
    assert result.returncode == 0, result.log[-2000:]
    assert "ne montre aucune des 15 conversations de l'export" in result.log
    assert result.stats["census/unlisted"] == 15
    assert sandbox.admin("/_admin/stats")["by_kind"]["conversations"] == 1  # aucune vérification
    assert_nothing_removed(data_dir, before, gone, result)


def test_a_census_on_another_websites_list_removes_nothing(sandbox_factory, data_dir):
    """ID_SITE_CRISP changé, même CRISP_DATA_DIR, recensement : la liste entière ne montre
    aucune conversation de l'export. Ce n'est pas une preuve de suppression : rien n'est
    vérifié ni effacé (sans cette garde, chaque conversation répondrait 404 sur l'autre site)."""
    sandbox = sandbox_factory(seed=1, conversations=12, websites=2)
    first, other = sandbox.websites
    env = {**sandbox.env(), "ID_SITE_CRISP": first}
    assert run_crawl("account", data_dir, env, timeout=300).returncode == 0
    mine = [c["session_id"] for c in read_jsonl(data_dir / "conversations" / "conversations.jsonl")]
    result = run_crawl("conversations", data_dir, {**env, "ID_SITE_CRISP": other},
                       args={"census": 1})
    assert "ne montre aucune des 12 conversations de l'export" in result.log, result.log[-2000:]
    assert not (data_dir / "suppressions.jsonl").exists()
    kept = {c["session_id"] for c in read_jsonl(data_dir / "conversations" / "conversations.jsonl")}
    assert set(mine) <= kept
    for session_id in mine:
        assert (data_dir / "conversations" / "messages" / f"{session_id}.jsonl").is_file()


def test_rechecking_profiles_against_a_wrong_api_url_removes_nothing(sandbox, data_dir):
    """-a verify=1 sur les profils avec une URL qui répond 404 partout : le 404 par l'e-mail
    puis par le people_id ne suffit pas, la liste des profils (404) dit l'URL fausse."""
    assert run_crawl("account", data_dir, sandbox.env(), timeout=300).returncode == 0
    users = data_dir / "utilisateurs" / "utilisateurs.jsonl"
    before = users.read_bytes()
    state = (data_dir / "utilisateurs" / "utilisateurs.jsonl.state.json").read_bytes()
    wrong = {**sandbox.env(), "CRISP_API_URL": sandbox.url + "/v9"}
    result = run_crawl("users", data_dir, wrong, args={"verify": 1})
    assert result.reason == "bad_api_url", result.log[-2000:]
    assert users.read_bytes() == before
    assert (data_dir / "utilisateurs" / "utilisateurs.jsonl.state.json").read_bytes() == state
    assert not (data_dir / "suppressions.jsonl").exists()


def test_a_removed_conversation_listed_again_is_restored_not_erased(sandbox, data_dir):
    """Le registre dit une conversation supprimée (par erreur, ou d'une autre source), mais la
    liste de Crisp la montre : elle existe. La suppression est levée (ligne « restored »),
    rien n'est effacé, elle est exportée et demandée de nouveau."""
    assert run_crawl("account", data_dir, sandbox.env(), timeout=300).returncode == 0
    listing = read_jsonl(data_dir / "conversations" / "conversations.jsonl")
    alive = listing[0]["session_id"]
    record = {"kind": "conversation", "id": alive, "when": "2026-12-01T00:00:00+00:00",
              "evidence": "404 sur GET …", "policy": "erase"}
    (data_dir / "suppressions.jsonl").write_text(json.dumps(record) + "\n", encoding="utf-8")
    result = run_crawl("conversations", data_dir, sandbox.env())
    assert result.returncode == 0, result.log[-2000:]
    assert result.stats["removed/restored"] == 1
    assert "removed/erased" not in result.stats
    assert [r["policy"] for r in read_jsonl(data_dir / "suppressions.jsonl")] == [
        "erase", "restored"]
    assert alive in {c["session_id"] for c in read_jsonl(data_dir / "conversations" /
                                                          "conversations.jsonl")}
    assert (data_dir / "conversations" / "messages" / f"{alive}.jsonl").is_file()


def test_an_empty_message_batch_during_a_complete_reread_removes_nothing(deleted, data_dir):
    """Relecture complète (-a verify=1) dont le premier lot revient vide par erreur : ce n'est
    pas « tous les messages supprimés ». Rien n'est retiré du fichier."""
    sandbox, gone, before = deleted
    sandbox.admin("/_admin/faults", method="POST", json={"fault_plan": ["empty_list"]})
    result = run_crawl("messages", data_dir, sandbox.env(), args={"verify": 1, "nb": 1})
    assert result.returncode == 0, result.log[-2000:]
    assert "removed/messages" not in result.stats
    assert result.stats.get("messages/removals_refused") == 1
    assert_nothing_removed(data_dir, before, gone, result)
    for name, content in before.items():
        if name.startswith("conversations/messages/"):
            assert tree(data_dir)[name] == content, name


def test_a_confirmation_refused_by_the_quota_removes_nothing_then_the_next_run_sees_it(
        sandbox_factory, data_dir):
    """Le 404 des messages arrive, mais l'appel de confirmation est refusé (quota atteint,
    423) : rien n'est supprimé, l'exécution s'arrête pour quota ; la suivante confirme la
    suppression et l'efface."""
    sandbox = sandbox_factory(seed=4, conversations=15)
    assert run_crawl("account", data_dir, sandbox.env(), timeout=300).returncode == 0
    listing = read_jsonl(data_dir / "conversations" / "conversations.jsonl")
    gone = listing[0]["session_id"]  # la première que la relecture demande (-a nb=1)
    sandbox.admin(f"/_admin/conversations/{gone}/delete", method="POST")
    before = tree(data_dir)
    sandbox.admin("/_admin/quota/reset", method="POST")
    sandbox.admin("/_admin/faults", method="POST", json={"quota": 1})  # le 404, rien de plus
    result = run_crawl("messages", data_dir, sandbox.env(), args={"verify": 1, "nb": 1})
    assert result.reason == "quota", result.log[-2000:]
    assert result.stats["removed/checks"] == 1
    assert_nothing_removed(data_dir, before, gone, result)
    sandbox.admin("/_admin/faults/reset", method="POST")
    sandbox.admin("/_admin/quota/reset", method="POST")
    again = run_crawl("messages", data_dir, sandbox.env(), args={"verify": 1, "nb": 1})
    assert again.returncode == 0, again.log[-2000:]
    assert [r["id"] for r in read_jsonl(data_dir / "suppressions.jsonl")] == [gone]
