"""Jamais de suppression sur une preuve faible (issue 21) : crawls réels contre le bac à sable.

Une conversation est vraiment supprimée dans le bac à sable, puis chaque exécution tombe sur
une autre réponse que le 404 de la conversation elle-même : identifiants refusés (401),
erreurs 5xx, délais dépassés, page de liste vide par erreur. Rien ne doit alors quitter
l'export ni le registre ; une fois la panne passée, la suppression est bien vue.
(L'URL fausse et l'autre site : tests/e2e/test_removals.py.)
"""

from __future__ import annotations

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
    « finie » et toutes les conversations connues « absentes ». Trop d'absentes pour un
    ménage ordinaire : rien n'est vérifié ni supprimé, et l'avertissement le dit."""
    sandbox, gone, before = deleted
    sandbox.admin("/_admin/stats/reset", method="POST")
    sandbox.admin("/_admin/faults", method="POST", json={"fault_plan": ["empty_list"]})
    result = run_crawl("conversations", data_dir, sandbox.env(), args={"census": 1})
    assert result.returncode == 0, result.log[-2000:]
    assert "ce n'est pas un ménage ordinaire" in result.log
    assert result.stats["census/unlisted"] == 15
    assert sandbox.admin("/_admin/stats")["by_kind"]["conversations"] == 1  # aucune vérification
    assert_nothing_removed(data_dir, before, gone, result)
