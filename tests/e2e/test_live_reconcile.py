"""Le flux perd et double des événements : la réconciliation du direct (issue 22, §4).

Contre le RTM du bac à sable (routes /_admin/rtm/drop, /duplicate, /disconnect) :
- un événement doublé n'écrit le message qu'une fois ;
- un événement perdu est retrouvé par la réconciliation périodique, qui, sans coupure depuis
  la précédente, ne relit QUE la conversation changée (aucun appel de fenêtre) ;
- ce qui arrive pendant une coupure est retrouvé par la réconciliation qui suit la
  reconnexion.
"""

from __future__ import annotations

import json
import time

from bench.live_process import quiet
from tests.e2e.test_live import journal, stop, wait_for
from tests.e2e.test_live_apply import connected, exported, fingerprints, tree
from tests.support.crawling import start_crawl

SETTINGS = {"CRISP_LIVE_SETTLE_MINUTES": "0.05", "CRISP_LIVE_LIST_MINUTES": "0.05",
            "CRISP_LIVE_RECONCILE_HOURS": "0.003"}


def settled(sandbox, data_dir) -> None:
    """Plus aucune conversation à relire, et plus aucun appel en cours."""
    state = data_dir / "evenements" / "journal.state.json"
    wait_for(lambda: state.is_file() and json.loads(state.read_text())["unsettled"] == {}, 30,
             "conversations réglées")
    quiet(sandbox)


def test_duplicates_lost_events_and_gaps_are_caught_up(sandbox, tmp_path):
    data_dir = exported(sandbox, tmp_path, "data")
    stats_file = tmp_path / "live-stats.json"
    truth = sandbox.admin("/_admin/truth/conversations")
    doubled, lost, during_gap = (truth[i]["session_id"] for i in (2, 7, 11))
    process = start_crawl("live", data_dir, sandbox.env(), settings=SETTINGS,
                          stats_file=stats_file)
    try:
        connected(sandbox)
        quiet(sandbox)  # réconciliation du départ finie

        sandbox.admin("/_admin/rtm/duplicate", method="POST", json={"count": 1})
        [added] = sandbox.admin(f"/_admin/conversations/{doubled}/messages", method="POST",
                                json={"count": 1})
        wait_for(lambda: added["fingerprint"] in fingerprints(data_dir, doubled), 5, "doublé")
        assert fingerprints(data_dir, doubled).count(added["fingerprint"]) == 1
        settled(sandbox, data_dir)

        sandbox.admin("/_admin/stats/reset", method="POST")
        sandbox.admin("/_admin/rtm/drop", method="POST", json={"count": 1})
        [missed] = sandbox.admin(f"/_admin/conversations/{lost}/messages", method="POST",
                                 json={"count": 1})
        wait_for(lambda: missed["fingerprint"] in fingerprints(data_dir, lost), 30,
                 "message perdu retrouvé")
        quiet(sandbox)
        calls = sandbox.admin("/_admin/stats")
        # Sans coupure : seule la conversation changée est relue, en un appel.
        assert calls["calls_by_session"] == {lost: 1}, calls

        sandbox.admin("/_admin/rtm/disconnect", method="POST")
        [unseen] = sandbox.admin(f"/_admin/conversations/{during_gap}/messages", method="POST",
                                 json={"count": 1})
        wait_for(lambda: unseen["fingerprint"] in fingerprints(data_dir, during_gap), 30,
                 "message de la coupure retrouvé")
        fresh = exported(sandbox, tmp_path, "fresh")
        wait_for(lambda: tree(data_dir) == tree(fresh), 30, "fichiers réglés")
    finally:
        out, stats = stop(process, stats_file)
    assert process.returncode == 0, out[-3000:]
    assert stats["live/reconciliations"] >= 3
    # Retrouvés par la réconciliation : le flux ne les a jamais apportés.
    sent = {r["data"].get("fingerprint") for r in journal(data_dir)}
    assert missed["fingerprint"] not in sent and unseen["fingerprint"] not in sent
    assert added["fingerprint"] in sent
    # L'événement doublé a été journalisé deux fois, et écrit une fois.
    assert stats["live/events/message:send"] == 2


def test_one_list_page_serves_every_conversation_settled_after_it(sandbox, tmp_path):
    """La page de liste coûtait un appel par tour de réglage, autant que la relecture : au
    plus une par CRISP_LIVE_LIST_MINUTES maintenant, pour toutes les conversations calmes."""
    data_dir = exported(sandbox, tmp_path, "data")
    truth = sandbox.admin("/_admin/truth/conversations")
    chats = [truth[i]["session_id"] for i in (3, 4, 5, 6, 8)]
    stats_file = tmp_path / "live-stats.json"
    process = start_crawl("live", data_dir, sandbox.env(), stats_file=stats_file, settings={
        "CRISP_LIVE_SETTLE_MINUTES": "0.05", "CRISP_LIVE_LIST_MINUTES": "0.25"})
    try:
        connected(sandbox)
        quiet(sandbox)  # réconciliation du départ finie : son balayage vient d'avoir lieu
        sandbox.admin("/_admin/stats/reset", method="POST")
        started = time.monotonic()
        for session_id in chats:  # une conversation calme par seconde
            sandbox.admin(f"/_admin/conversations/{session_id}/messages", method="POST",
                          json={"count": 1})
            time.sleep(1.0)
        settled(sandbox, data_dir)
        elapsed = time.monotonic() - started
        calls = sandbox.admin("/_admin/stats")
        fresh = exported(sandbox, tmp_path, "fresh")
        wait_for(lambda: tree(data_dir) == tree(fresh), 30, "fichiers réglés")
    finally:
        out, stats = stop(process, stats_file)
    assert process.returncode == 0, out[-3000:]
    # Chaque conversation relue une fois (un appel), et une page par période de 15 s au plus
    # (avant : une page par tour, soit cinq ici).
    assert calls["calls_by_session"] == {s: 1 for s in chats}, calls
    assert 1 <= calls["by_kind"]["conversations"] <= 1 + elapsed // 15, (calls, elapsed)
    assert stats["live/settle_rounds"] >= 1
