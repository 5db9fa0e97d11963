"""Une réconciliation tuée en route ne raccourcit pas la fenêtre de la suivante (issue 22).

Contre le bac à sable, avec de vrais ``scrapy crawl live`` :
- le direct s'arrête (SIGTERM) ; pendant qu'il est arrêté, un message de la conversation C
  est modifié (une modification ne bouge pas le repère de C dans la liste : seule la
  fenêtre de revérification la retrouve) ; l'état du journal est vieilli de 30 minutes
  (une coupure de 30 minutes) ;
- au départ suivant, la réconciliation note tout de suite ce qu'elle doit couvrir
  (``connection.uncovered_since`` ≈ il y a 30 minutes) puis est tuée (SIGKILL) dès son
  premier appel, l'API étant lente ;
- au départ d'après, la coupure court encore depuis 30 minutes : la fenêtre atteint
  l'activité de C (il y a 20 minutes) et la modification arrive dans son fichier. Calculée
  sur la seule dernière écriture de l'état (quelques secondes, plus 5 minutes de marge),
  elle ne l'atteindrait pas.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from bench.live_process import quiet
from tests.e2e.test_live import stop, wait_for
from tests.e2e.test_live_apply import (
    SETTINGS, connected, exported, fingerprints, lines, messages_file,
)
from tests.support.crawling import communicate_or_kill, start_crawl

LATENCY_MS = 4000
OUTAGE_SECONDS = 30 * 60
# Activité réelle de C : dans une coupure de 30 minutes, hors d'une fenêtre de 5 minutes.
ACTIVITY_AGO_SECONDS = 20 * 60
EDITED = "contenu modifié pendant la coupure"


def state_path(data_dir: Path) -> Path:
    return data_dir / "evenements" / "journal.state.json"


def read_state(data_dir: Path) -> dict:
    try:
        return json.loads(state_path(data_dir).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def aged_state(data_dir: Path, saved_at: float) -> None:
    """Réécrit l'état du journal (atomiquement, le reste gardé) avec ce ``saved_at``."""
    path = state_path(data_dir)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["saved_at"] = saved_at
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(data), encoding="utf-8")
    os.replace(temporary, path)


def cleared(data_dir: Path) -> bool:
    """L'état est lisible, dit la connexion, et n'a plus rien à couvrir."""
    connection = read_state(data_dir).get("connection")
    return isinstance(connection, dict) and "uncovered_since" not in connection


def content_of(data_dir: Path, session_id: str, fingerprint: int):
    return next((m.get("content") for m in lines(messages_file(data_dir, session_id))
                 if m["fingerprint"] == fingerprint), None)


def eventually(condition, timeout: float) -> bool:
    """Vrai dès que ``condition`` l'est ; faux passé ``timeout`` (l'échec est dit après
    l'arrêt du direct, avec son journal)."""
    try:
        wait_for(condition, timeout, "attente")
    except AssertionError:
        return False
    return True


def test_a_reconciliation_killed_midway_keeps_its_gap_for_the_next_start(sandbox, tmp_path):
    data_dir = exported(sandbox, tmp_path, "data")
    # Une conversation qui a des messages dans son fichier (certaines sont vides).
    session_id = next(c["session_id"] for c in sandbox.admin("/_admin/truth/conversations")[3:]
                      if len(fingerprints(data_dir, c["session_id"])) >= 2)
    edited_fp = fingerprints(data_dir, session_id)[0]
    assert content_of(data_dir, session_id, edited_fp) != EDITED

    # 1. Le direct règle C après un message d'horodatage réel (il y a 20 minutes) : son
    #    activité dans conversations.jsonl est alors réelle, la fenêtre peut l'atteindre.
    stats_file = tmp_path / "live-stats-1.json"
    process = start_crawl("live", data_dir, sandbox.env(), settings=SETTINGS,
                          stats_file=stats_file)
    try:
        connected(sandbox)
        quiet(sandbox)  # réconciliation du premier départ finie
        stamp = int((time.time() - ACTIVITY_AGO_SECONDS) * 1000)
        [added] = sandbox.admin(f"/_admin/conversations/{session_id}/messages",
                                method="POST", json={"count": 1, "timestamp": stamp})
        wait_for(lambda: added["fingerprint"] in fingerprints(data_dir, session_id), 10,
                 "message écrit")
        wait_for(lambda: read_state(data_dir).get("unsettled") == {}, 60,
                 "conversation réglée")
        quiet(sandbox)
    finally:
        out, _ = stop(process, stats_file)
    assert process.returncode == 0, out[-3000:]
    assert cleared(data_dir), read_state(data_dir)

    # 2. Direct arrêté : un message de C est modifié (aucun événement ne le dira), et l'état
    #    date d'il y a 30 minutes (une coupure de 30 minutes).
    sandbox.admin(f"/_admin/conversations/{session_id}/messages/{edited_fp}/edit",
                  method="POST", json={"content": EDITED})
    outage_start = time.time() - OUTAGE_SECONDS
    aged_state(data_dir, outage_start)

    # 3. API lente : la réconciliation du départ est tuée dès son premier appel.
    sandbox.admin("/_admin/faults", method="POST", json={"latency_ms": LATENCY_MS})
    sandbox.admin("/_admin/stats/reset", method="POST")
    process = start_crawl("live", data_dir, sandbox.env(), settings=SETTINGS)
    try:
        # L'appel des adresses du temps réel ne compte pas : celui d'une liste ou de messages.
        wait_for(lambda: sum(sandbox.admin("/_admin/stats")["by_kind"].get(kind, 0)
                             for kind in ("conversations", "messages")) >= 1, 60,
                 "premier appel de la réconciliation")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        killed_out, _ = communicate_or_kill(process, 30, "direct tué")
    assert process.returncode == -signal.SIGKILL, killed_out[-3000:]
    wait_for(lambda: sandbox.admin("/_admin/rtm")["clients"] == 0, 10, "déconnexion")
    killed_state = read_state(data_dir)
    uncovered = killed_state.get("connection", {}).get("uncovered_since")
    # Noté avant le premier appel : le début de la coupure, à quelques secondes près.
    assert isinstance(uncovered, (int, float)), (killed_state, killed_out[-3000:])
    assert abs(uncovered - outage_start) < 5, (uncovered, outage_start)
    # La dernière écriture de l'état, elle, est récente : seule, elle raccourcirait la fenêtre.
    assert time.time() - killed_state["saved_at"] < 120, killed_state
    assert content_of(data_dir, session_id, edited_fp) != EDITED

    # 4. Départ suivant, API rapide : la coupure court toujours depuis 30 minutes.
    sandbox.admin("/_admin/faults", method="POST", json={"latency_ms": 0})
    sandbox.admin("/_admin/stats/reset", method="POST")
    stats_file = tmp_path / "live-stats-3.json"
    process = start_crawl("live", data_dir, sandbox.env(), settings=SETTINGS,
                          stats_file=stats_file)
    try:
        connected(sandbox)
        found = eventually(lambda: content_of(data_dir, session_id, edited_fp) == EDITED, 60)
        covered = found and eventually(lambda: cleared(data_dir), 30)
        calls = sandbox.admin("/_admin/stats")
    finally:
        out, stats = stop(process, stats_file)
    assert found, ("modification faite pendant la coupure jamais relue : la fenêtre de la "
                   "réconciliation n'a pas couvert la coupure d'avant l'arrêt brutal",
                   calls, out[-4000:])
    assert covered, (read_state(data_dir), out[-3000:])
    assert process.returncode == 0, out[-3000:]
    assert stats["live/reconciliations"] >= 1
    assert calls["calls_by_session"].get(session_id, 0) >= 1, calls
    # Fin propre après une réconciliation complète : plus rien à couvrir.
    assert cleared(data_dir), read_state(data_dir)
