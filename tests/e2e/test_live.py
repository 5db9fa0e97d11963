"""Le direct (issue 22, première partie) : ``scrapy crawl live`` contre le RTM du bac à sable.

Un vrai processus ``scrapy crawl live`` tient la connexion Socket.IO du bac à sable : chaque
événement (un message ajouté par l'administration) est dans le journal
``evenements/AAAA-MM-JJ.jsonl`` en moins d'une seconde ; une coupure est dite en français et
rattrapée (reconnexion, nouvelle authentification) ; SIGTERM est la fin normale (code 0,
``live_stopped``) ; des identifiants refusés arrêtent tout, en français.
"""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

from tests.support.crawling import communicate_or_kill, run_crawl, start_crawl


def journal(data_dir: Path) -> list[dict]:
    folder = data_dir / "evenements"
    if not folder.is_dir():
        return []
    return [json.loads(line) for path in sorted(folder.glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def wait_for(condition, timeout: float, what: str, run=None):
    """La valeur de ``condition`` dès qu'elle est vraie ; sinon l'échec, avec la fin de la
    sortie du direct ``run`` (tests.support.live.LiveLog) s'il est donné."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    tail = f"\n{run.log[-3000:]}" if run is not None else ""
    raise AssertionError(f"{what} : pas en {timeout} s{tail}")


def stop(process, stats_file: Path):
    process.send_signal(signal.SIGTERM)
    out, _ = communicate_or_kill(process, 60, "arrêt du direct")
    return out, json.loads(stats_file.read_text()) if stats_file.exists() else {}


def listed(sandbox, data_dir: Path) -> None:
    """Le direct part d'un export existant : au moins la liste des conversations."""
    result = run_crawl("conversations", data_dir, sandbox.env())
    assert result.returncode == 0, result.log[-3000:]


def test_live_needs_an_export_and_says_so_in_french(sandbox, data_dir):
    result = run_crawl("live", data_dir, sandbox.env())
    assert result.returncode == 1, result.log[-3000:]
    assert result.reason == "input_error"
    assert "Fichier des conversations introuvable" in result.log
    assert "scrapy crawl account" in result.log
    assert sandbox.admin("/_admin/stats")["calls"] == 0
    assert journal(data_dir) == []


def test_events_are_journaled_within_a_second_and_sigterm_is_a_normal_end(sandbox, data_dir):
    listed(sandbox, data_dir)
    stats_file = data_dir.parent / "live-stats.json"
    process = start_crawl("live", data_dir, sandbox.env(), stats_file=stats_file)
    try:
        wait_for(lambda: sandbox.admin("/_admin/rtm")["clients"] == 1, 30, "connexion")
        session_id = sandbox.admin("/_admin/truth/conversations")[0]["session_id"]
        started = time.monotonic()
        [added] = sandbox.admin(f"/_admin/conversations/{session_id}/messages", method="POST",
                                json={"count": 1})
        [record] = wait_for(lambda: journal(data_dir), 5, "événement journalisé")
        assert time.monotonic() - started < 1.0
        assert (record["seq"], record["source"], record["event"]) == (1, "rtm", "message:send")
        assert (record["data"]["session_id"], record["data"]["fingerprint"]) == (
            session_id, added["fingerprint"])

        # Coupure du réseau : dite, rattrapée, et ce qui suit est journalisé.
        sandbox.admin("/_admin/rtm/disconnect", method="POST")
        wait_for(lambda: sandbox.admin("/_admin/rtm")["clients"] == 1, 30, "reconnexion")
        sandbox.admin(f"/_admin/conversations/{session_id}/messages", method="POST",
                      json={"count": 1})
        wait_for(lambda: len(journal(data_dir)) == 2, 5, "événement après la reconnexion")
    finally:
        out, stats = stop(process, stats_file)
    assert process.returncode == 0, out[-3000:]
    assert stats["finish_reason"] == "live_stopped"
    assert stats["live/events"] == 2
    assert "Direct interrompu (connexion coupée)" in out and "connexion rétablie" in out
    assert "Fin : direct arrêté" in out
    assert sandbox.env()["CRISP_KEY_PROD"] not in out


def test_refused_credentials_stop_the_live_intake_in_french(sandbox, data_dir):
    listed(sandbox, data_dir)
    stats_file = data_dir.parent / "live-stats.json"
    env = {**sandbox.env(), "CRISP_KEY_PROD": "pas-la-bonne-cle"}
    process = start_crawl("live", data_dir, env, stats_file=stats_file)
    out, _ = communicate_or_kill(process, 60, "direct refusé")
    stats = json.loads(stats_file.read_text())
    assert process.returncode == 1, out[-3000:]
    # Le bac à sable refuse déjà l'appel d'adresse (401) : rien n'est connecté ni journalisé.
    assert stats["finish_reason"] == "unauthorized"
    assert journal(data_dir) == []


def test_ctrl_c_is_a_normal_end_too(sandbox, data_dir):
    """SIGINT (Ctrl-C, et cancel.json de scrapyd) : la fin propre de Scrapy, pas celle que
    python-socketio voudrait (qui annule toutes les tâches et arrête la boucle)."""
    listed(sandbox, data_dir)
    stats_file = data_dir.parent / "live-stats.json"
    process = start_crawl("live", data_dir, sandbox.env(), stats_file=stats_file)
    wait_for(lambda: sandbox.admin("/_admin/rtm")["clients"] == 1, 30, "connexion")
    process.send_signal(signal.SIGINT)
    out, _ = communicate_or_kill(process, 60, "Ctrl-C du direct")
    assert process.returncode == 0, out[-3000:]
    assert json.loads(stats_file.read_text())["finish_reason"] == "live_stopped"
    assert "Fin : direct arrêté" in out
