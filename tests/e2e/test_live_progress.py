"""Le direct se dit en cours de route : un vrai ``scrapy crawl live`` contre le RTM du bac à sable,
sur un export fait d'abord (``scrapy crawl account`` : le direct en a besoin).

- la ligne de progression (CRISP_PROGRESS_SECONDS) dit la connexion, « connecté » puis
  « coupé depuis N s » quand le bac à sable coupe (``/_admin/rtm/disconnect``), puis de
  nouveau « connecté » ; les statistiques finales comptent la perte ;
- ``scrapy status`` dit la ligne « Direct : » d'après ``evenements/journal.state.json`` ;
- le contrôle périodique de Spidermon échoue (« Direct coupé ») quand la connexion manque
  depuis plus de CRISP_LIVE_MAX_DOWN_MINUTES : le bac à sable est arrêté, chaque nouvel essai
  est refusé (port fermé) ; les chiffres se lisent par JSON-RPC ; l'arrêt reste la fin
  normale du direct (code 0, aucun moniteur de fin en échec).
"""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time

import crispscrape.jsonrpc  # noqa: F401 - rend scrapy_jsonrpc importable sous Scrapy 2
from scrapy_jsonrpc.jsonrpc import jsonrpc_client_call
from tests.e2e.test_live import wait_for
from tests.support.crawling import ROOT, crawl_env, run_crawl, start_crawl
from tests.support.live import LiveLog

PERIODIC = json.dumps({"crispscrape.monitors.suites.PeriodicMonitors": 0.3})
CALLS = re.compile(r"appels aujourd'hui : (\d+)/5000 \(quota\)\.$")


def export(sandbox, data_dir) -> None:
    result = run_crawl("account", data_dir, sandbox.env())
    assert result.returncode == 0, result.log[-3000:]


def quiet(read, run: LiveLog, seconds: float = 2.0, timeout: float = 60) -> None:
    """Attend que la valeur lue ne bouge plus pendant ``seconds``."""
    deadline = time.monotonic() + timeout
    value, since = read(), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.2)
        current = read()
        if current != value:
            value, since = current, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return
    raise AssertionError(f"toujours des appels après {timeout} s\n{run.log[-3000:]}")


def progress_lines(run: LiveLog) -> list[str]:
    return [line.split("Progression live : ", 1)[1] for line in run.log.splitlines()
            if "Progression live : " in line]


def stop(run: LiveLog, stats_file) -> dict:
    run.process.send_signal(signal.SIGTERM)
    run.wait_exit(60)
    return json.loads(stats_file.read_text()) if stats_file.exists() else {}


def test_progress_line_says_the_connection_its_loss_and_its_return(sandbox, data_dir):
    export(sandbox, data_dir)
    stats_file = data_dir.parent / "live-stats.json"
    run = LiveLog(start_crawl("live", data_dir, sandbox.env(), stats_file=stats_file,
                              settings={"CRISP_PROGRESS_SECONDS": "0.2"}))
    try:
        wait_for(lambda: any(line.startswith("connecté ;") for line in progress_lines(run)),
                 30, "ligne de progression « connecté »", run)
        session_id = sandbox.admin("/_admin/truth/conversations")[0]["session_id"]
        sandbox.admin(f"/_admin/conversations/{session_id}/messages", method="POST",
                      json={"count": 1})
        wait_for(lambda: any("1 événement reçu" in line and "dernier il y a" in line
                             for line in progress_lines(run)), 10, "événement compté", run)

        seen = len(progress_lines(run))
        sandbox.admin("/_admin/rtm/disconnect", method="POST")
        # Premier nouvel essai après 1 s : la ligne le dit coupé entre-temps…
        wait_for(lambda: any(line.startswith("coupé depuis ")
                             for line in progress_lines(run)[seen:]), 10, "« coupé »", run)
        cut = next(i for i, line in enumerate(progress_lines(run)) if i >= seen
                   and line.startswith("coupé depuis "))
        # … puis de nouveau connecté.
        wait_for(lambda: any(line.startswith("connecté ;")
                             for line in progress_lines(run)[cut:]), 30, "reconnexion", run)
    finally:
        stats = stop(run, stats_file)
    assert run.process.returncode == 0, run.log[-3000:]
    calls = [int(CALLS.search(line).group(1)) for line in progress_lines(run)]
    assert calls == sorted(calls) and 1 <= calls[-1] <= stats["crisp_api/requests"], calls
    assert "Direct interrompu (connexion coupée)" in run.log and "connexion rétablie" in run.log
    assert stats["finish_reason"] == "live_stopped" and stats["monitors/failed"] == 0
    assert stats["live/connection_losses"] == 1
    # Connecté jusqu'à la fin du crawl (la connexion se ferme après l'écriture des chiffres).
    assert (stats["live/connected"], stats["live/down_since"]) == (1, None)
    assert time.time() - 60 < stats["live/last_event_at"] <= time.time()
    assert (stats["live/calls_today"], stats["live/daily_quota"]) == (
        stats["crisp_api/requests"], 5000)
    assert sandbox.env()["CRISP_KEY_PROD"] not in run.log
    assert all(sandbox.env()["CRISP_KEY_PROD"] not in str(value) for value in stats.values())


def test_periodic_monitor_fails_while_the_connection_is_refused(sandbox, data_dir):
    export(sandbox, data_dir)
    stats_file = data_dir.parent / "live-stats.json"
    run = LiveLog(start_crawl("live", data_dir, sandbox.env(), stats_file=stats_file, settings={
        "SPIDERMON_PERIODIC_MONITORS": PERIODIC, "CRISP_LIVE_MAX_DOWN_MINUTES": "0.01",
        "CRISP_PROGRESS_SECONDS": "0.2", "JSONRPC_ENABLED": "1", "JSONRPC_PORT": "0"}))
    try:
        host, port = run.wait_listening()
        stats_url = f"http://{host}:{port}/crawler/stats"

        def stat(name):
            return jsonrpc_client_call(stats_url, "get_value", name)

        wait_for(lambda: stat("live/connected") == 1, 30, "connexion", run)
        # Connecté : le contrôle périodique passe.
        wait_for(lambda: (stat("monitors/periodic/runs") or 0) >= 3, 10, "contrôles", run)
        assert stat("monitors/periodic/failed") is None and stat("live/down_since") is None
        # Plus d'appel en cours (réconciliation du départ faite) : l'arrêt du bac à sable ne
        # coupe que la connexion, aucune ressource n'échoue.
        quiet(lambda: stat("crisp_api/requests"), run)

        # Le bac à sable s'arrête : la connexion tombe, chaque nouvel essai est refusé.
        sandbox.stop()
        wait_for(lambda: "Contrôle périodique : Moniteur Direct coupé : en échec, connexion "
                         "en direct coupée depuis" in run.log, 30, "moniteur en échec", run)
        assert stat("live/connected") == 0 and stat("live/connection_losses") == 1
        assert time.time() - 60 < stat("live/down_since") < time.time() - 0.6
        # Chaque nouvel essai (le premier après 1 s) est refusé : le direct le dit.
        wait_for(lambda: "Direct interrompu (connexion impossible" in run.log, 10,
                 "essai refusé", run)
        assert any(line.startswith("coupé depuis ") for line in progress_lines(run))
    finally:
        stats = stop(run, stats_file)
    # Un arrêt pendant une coupure reste la fin normale du direct.
    assert run.process.returncode == 0, run.log[-3000:]
    assert stats["finish_reason"] == "live_stopped"
    assert (stats["monitors/failed"], stats["monitors/exit_code"]) == (0, 0)
    assert stats["monitors/periodic/failed"] >= 1
    assert "Fin : direct arrêté" in run.log


def test_scrapy_status_has_a_direct_line_from_the_journal_state(tmp_path):
    folder = tmp_path / "data" / "evenements"
    folder.mkdir(parents=True)
    (folder / "journal.state.json").write_text(json.dumps({
        "applied": 3, "unsettled": {"session_a": {}},
        "connection": {"state": "down", "since": "2020-01-01T00:00:00+00:00"}}))
    (folder / "2020-01-01.jsonl").write_text(json.dumps(
        {"seq": 3, "received": "2020-01-01T00:00:00.000+00:00", "event": "message:send"}) + "\n")
    result = subprocess.run([sys.executable, "-m", "scrapy", "status"], cwd=ROOT,
                            env=crawl_env({}, tmp_path / "data"), capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    [line] = [line for line in result.stdout.splitlines() if "Direct" in line]
    assert re.fullmatch(r"  Direct : 3 événements appliqués, 1 conversation à régler, coupé "
                        r"depuis \d+ h \d\d min, dernier événement journalisé il y a \d+ h "
                        r"\d\d min\.", line), line
