"""Recensement (issue 21) : une conversation supprimée chez Crisp SANS nouvelle activité n'est
vue que si la liste entière est parcourue ; crawls réels contre le bac à sable.

L'absence de la liste ne suffit jamais : chaque absente est confirmée par un 404 sur
elle-même. Un ``account`` ordinaire (balayage du haut, une page) ne voit rien et ne supprime
rien ; ``-a census=1`` ou CRISP_CENSUS_DAYS écoulés parcourent tout, et un recensement coupé
par le budget reprend à sa page.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.support.crawling import read_jsonl, run_crawl
from tests.support.messages_support import calls_by_session

PER_PAGE = {"CRISP_CONVERSATIONS_PER_PAGE": 20}


def listing_ids(data_dir: Path) -> list[str]:
    return [c["session_id"] for c in read_jsonl(data_dir / "conversations" / "conversations.jsonl")]


def listing_state(data_dir: Path) -> dict:
    path = data_dir / "conversations" / "conversations.jsonl.state.json"
    return json.loads(path.read_text())


def exported(sandbox_factory, data_dir, conversations=45):
    sandbox = sandbox_factory(seed=2, conversations=conversations)
    result = run_crawl("account", data_dir, sandbox.env(), settings=PER_PAGE, timeout=300)
    assert result.returncode == 0, result.log[-3000:]
    return sandbox


def test_an_ordinary_run_removes_nothing_and_a_census_finds_the_deleted_conversation(
        sandbox_factory, data_dir):
    sandbox = exported(sandbox_factory, data_dir)
    ids = listing_ids(data_dir)
    gone = ids[-1]  # la plus ancienne : dernière page, aucune nouvelle activité
    sandbox.admin(f"/_admin/conversations/{gone}/delete", method="POST")

    ordinary = run_crawl("account", data_dir, sandbox.env(), settings=PER_PAGE, timeout=300)
    assert ordinary.returncode == 0, ordinary.log[-3000:]
    assert listing_ids(data_dir) == ids  # absente de la liste, mais rien ne le prouve
    assert not (data_dir / "suppressions.jsonl").exists()

    sandbox.admin("/_admin/stats/reset", method="POST")
    census = run_crawl("account", data_dir, sandbox.env(), args={"census": 1},
                       settings=PER_PAGE, timeout=300)
    assert census.returncode == 0, census.log[-3000:]
    # (les statistiques d'un account sont celles de sa dernière étape : le journal fait foi)
    assert "Recensement fini : 1 conversation(s) connue(s) absente(s) de la liste" in census.log
    assert listing_ids(data_dir) == [i for i in ids if i != gone]
    assert not (data_dir / "conversations" / "messages" / f"{gone}.jsonl").exists()
    # 44 conversations en 20 par page : 3 pages et la page vide, puis UN appel de
    # confirmation (GET de la conversation, compté à part par le bac à sable).
    stats = sandbox.admin("/_admin/stats")
    assert stats["by_kind"]["conversations"] == 4
    assert stats["by_kind"]["other"] == 1
    assert calls_by_session(sandbox) == {}  # aucun appel de messages
    [record] = read_jsonl(data_dir / "suppressions.jsonl")
    assert record["evidence"].endswith(f"/conversation/{gone} (recensement)")
    state = listing_state(data_dir)
    assert state["census_at"] > 0 and "census_page" not in state
    assert not (data_dir / "conversations" / "recensement.jsonl").exists()
    for path in data_dir.rglob("*"):
        if path.is_file() and path.name != "suppressions.jsonl":
            assert gone.encode() not in path.read_bytes(), path

    sandbox.admin("/_admin/stats/reset", method="POST")
    after = run_crawl("account", data_dir, sandbox.env(), settings=PER_PAGE, timeout=300)
    assert after.returncode == 0, after.log[-3000:]
    assert sandbox.admin("/_admin/stats")["by_kind"]["conversations"] == 1  # plus de recensement
    assert "Recensement fini" not in after.log


def test_census_comes_back_by_itself_after_census_days(sandbox_factory, data_dir):
    sandbox = exported(sandbox_factory, data_dir, conversations=25)
    gone = listing_ids(data_dir)[-1]
    sandbox.admin(f"/_admin/conversations/{gone}/delete", method="POST")
    time.sleep(1.2)
    # 1 seconde exprimée en jours : le recensement est dû.
    settings = {**PER_PAGE, "CRISP_CENSUS_DAYS": 1 / 86400}
    result = run_crawl("account", data_dir, sandbox.env(), settings=settings, timeout=300)
    assert result.returncode == 0, result.log[-3000:]
    assert "Recensement fini : 1 conversation(s)" in result.log
    assert [r["id"] for r in read_jsonl(data_dir / "suppressions.jsonl")] == [gone]
    assert gone not in listing_ids(data_dir)
    # CRISP_CENSUS_DAYS=0 : jamais (sauf -a census=1).
    sandbox.admin(f"/_admin/conversations/{listing_ids(data_dir)[-1]}/delete", method="POST")
    time.sleep(1.2)
    never = run_crawl("account", data_dir, sandbox.env(),
                      settings={**PER_PAGE, "CRISP_CENSUS_DAYS": 0}, timeout=300)
    assert never.returncode == 0, never.log[-3000:]
    assert "Recensement fini" not in never.log
    assert len(read_jsonl(data_dir / "suppressions.jsonl")) == 1


def test_a_census_cut_by_the_budget_resumes_at_its_page(sandbox_factory, data_dir):
    sandbox = exported(sandbox_factory, data_dir, conversations=65)
    ids = listing_ids(data_dir)
    gone = ids[-1]
    sandbox.admin(f"/_admin/conversations/{gone}/delete", method="POST")
    # 64 conversations, 20 par page : pages 1 à 4, puis la page vide ; budget de 2 appels.
    cut = run_crawl("conversations", data_dir, sandbox.env(), args={"census": 1, "budget": 2},
                    settings=PER_PAGE)
    assert cut.reason == "budget", cut.log[-3000:]
    state = listing_state(data_dir)
    assert state["census_page"] == 3
    assert (data_dir / "conversations" / "recensement.jsonl").is_file()
    assert listing_ids(data_dir) == ids
    sandbox.admin("/_admin/stats/reset", method="POST")
    resumed = run_crawl("conversations", data_dir, sandbox.env(), settings=PER_PAGE)
    assert resumed.returncode == 0, resumed.log[-3000:]
    # Page 1 (balayage), puis le recensement reprend en page 3 : pages 3, 4 et la page vide
    # 5 (la page 2, vue par l'exécution coupée, n'est pas redemandée).
    assert sandbox.admin("/_admin/stats")["by_kind"]["conversations"] == 4
    assert resumed.stats["census/unlisted"] == 1
    assert listing_ids(data_dir) == [i for i in ids if i != gone]
    assert "census_page" not in listing_state(data_dir)


def test_a_list_page_out_of_order_turns_the_run_into_a_census(sandbox_factory, data_dir):
    """Issue 21 : le balayage du haut suppose la liste triée par dernière activité. Une page
    qui ne l'est pas (panne unsorted_list du bac à sable) le fait dire une fois, et toute la
    liste est parcourue au lieu de s'arrêter à la page 1 : la conversation supprimée sans
    activité est trouvée au passage."""
    sandbox = exported(sandbox_factory, data_dir)
    ids = listing_ids(data_dir)
    gone = ids[-1]
    sandbox.admin(f"/_admin/conversations/{gone}/delete", method="POST")
    sandbox.admin("/_admin/stats/reset", method="POST")
    sandbox.admin("/_admin/faults", method="POST", json={"fault_plan": ["unsorted_list"]})
    result = run_crawl("conversations", data_dir, sandbox.env(), settings=PER_PAGE)
    assert result.returncode == 0, result.log[-3000:]
    assert result.log.count("n'est pas triée par dernière activité") == 1
    assert result.stats["census/out_of_order"] == 1
    # 44 conversations, 20 par page : pages 1 à 3 et la page vide, puis la confirmation.
    stats = sandbox.admin("/_admin/stats")
    assert (stats["by_kind"]["conversations"], stats["by_kind"]["other"]) == (4, 1)
    assert listing_ids(data_dir) == [i for i in ids if i != gone]
