"""Le direct en chiffres, sans crawl : la ligne de progression, l'état lu par ``scrapy status``
(fichiers écrits à la main) et la règle « Direct coupé » (statistiques écrites à la main,
dans le vrai lanceur de Spidermon). Le vrai direct : tests/e2e/test_live_progress.py.
"""

from __future__ import annotations

import datetime
import json
import time
from types import SimpleNamespace

import pytest
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector
from spidermon.runners import MonitorRunner

from crispscrape.addon import CrispAddon
from crispscrape.context import ExportContext, publish_context
from crispscrape.extensions import live_progress
from crispscrape.extensions.live_progress import CallsToday, live_line
from crispscrape.extensions.progress import Progress
from crispscrape.live_status import LiveStatus
from crispscrape.monitors import rules
from crispscrape.monitors.suites import PeriodicMonitors

NOW = 1_800_000_000.0


# --- La ligne de progression -------------------------------------------------------------------

def test_live_line_connected_with_every_figure():
    stats = {"live/connected": 1, "live/down_since": None, "live/events": 12,
             "live/applied": 10, "live/last_event_at": NOW - 3.2, "live/settled": 4,
             "live/unsettled": 2}
    assert live_line("live", stats, 15, 5000, NOW) == (
        "Progression live : connecté ; 12 événements reçus, 10 appliqués, dernier il y a 3 s ; "
        "conversations : 4 réglées, 2 à régler ; appels aujourd'hui : 15/5000 (quota).")


def test_live_line_down_and_nothing_yet_counts_absent_figures_as_zero():
    stats = {"live/connected": 0, "live/down_since": NOW - 125}
    assert live_line("live", stats, 1, 10000, NOW) == (
        "Progression live : coupé depuis 2 min 05 s ; 0 événement reçu, 0 appliqué ; "
        "conversations : 0 réglée, 0 à régler ; appels aujourd'hui : 1/10000 (quota).")
    one = {"live/connected": 1, "live/events": 1, "live/applied": 1, "live/settled": 1}
    assert "1 événement reçu, 1 appliqué ;" in live_line("live", one, 0, 5000, NOW)
    assert "conversations : 1 réglée, 0 à régler" in live_line("live", one, 0, 5000, NOW)


def test_calls_today_restart_from_the_last_reading_at_utc_midnight():
    midnight = datetime.datetime(2027, 3, 2, tzinfo=datetime.timezone.utc).timestamp()
    calls = CallsToday()
    assert calls.count(7, midnight - 100) == 7  # tout ce que le processus a fait compte
    assert calls.count(40, midnight - 5) == 40
    assert calls.count(43, midnight + 1) == 3  # nouveau jour : base = dernier relevé
    assert calls.count(50, midnight + 60) == 10


def bare_crawler(**settings):
    """Un crawler réduit à ses réglages (défauts de l'add-on, puis ``settings``) et à des
    statistiques en mémoire."""
    values = Settings()
    CrispAddon().update_settings(values)
    for name, value in settings.items():
        values.set(name, value)
    crawler = SimpleNamespace(settings=values, spider=None)
    crawler.stats = MemoryStatsCollector(crawler)
    return crawler


def progress_for(key: str, **settings):
    crawler = bare_crawler(**settings)
    publish_context(crawler, ExportContext(name="live", source=None, config=None,
                                           progress_key=key, progress_unit="événements"))
    return Progress(crawler, 1.0), crawler.stats


def test_progress_gives_the_live_spider_its_own_line_once_the_connection_exists(monkeypatch):
    monkeypatch.setattr(live_progress.time, "time", lambda: NOW)
    progress, stats = progress_for("live/events", CRISP_DAILY_QUOTA=3000)
    # Pas de connexion encore (adresse pas reçue) : rien à dire, ni « 0/s ».
    assert progress.update() is None
    stats.set_value("live/connected", 0)
    stats.set_value("live/down_since", NOW - 2)
    stats.set_value("crisp_api/requests", 1)
    assert progress.update() == (
        "Progression live : coupé depuis 2 s ; 0 événement reçu, 0 appliqué ; "
        "conversations : 0 réglée, 0 à régler ; appels aujourd'hui : 1/3000 (quota).")
    assert (stats.get_value("live/calls_today"), stats.get_value("live/daily_quota")) == (1, 3000)
    assert stats.get_value("progress/done") == 0  # les chiffres communs restent tenus


def test_progress_of_other_exports_is_unchanged():
    progress, stats = progress_for("messages/conversations_done")
    assert progress.update() is None  # rien de fait : pas de « 0/s »
    stats.set_value("messages/conversations_done", 3)
    assert progress.update().startswith("Progression live : 3 événements, ")
    assert stats.get_value("live/calls_today") is None


# --- scrapy status ------------------------------------------------------------------------------

def write_journal(data_dir, state: dict | str | None, days: dict[str, str]):
    folder = data_dir / "evenements"
    folder.mkdir(parents=True)
    if state is not None:
        (folder / "journal.state.json").write_text(
            state if isinstance(state, str) else json.dumps(state), encoding="utf-8")
    for name, text in days.items():
        (folder / name).write_text(text, encoding="utf-8")


def record(seq: int, received: str) -> str:
    return json.dumps({"seq": seq, "received": received, "source": "rtm",
                       "event": "message:send", "data": {}}) + "\n"


def iso(seconds: float) -> str:
    return datetime.datetime.fromtimestamp(seconds, datetime.timezone.utc).isoformat(
        timespec="milliseconds")


def test_status_says_nothing_when_the_live_intake_never_ran(tmp_path):
    assert LiveStatus.read(tmp_path) is None
    write_journal(tmp_path, None, {"2027-03-01.jsonl": record(1, iso(NOW))})
    assert LiveStatus.read(tmp_path) is None


def test_status_line_from_a_full_state_and_the_newest_journal(tmp_path):
    newest = record(7, iso(NOW - 12)) + record(8, iso(NOW - 4)) + '{"seq": 9, "rece'
    write_journal(tmp_path, {"applied": 8, "unsettled": {"session_a": 1, "session_b": 2},
                             "connection": {"state": "connected", "since": iso(NOW - 185)}},
                  {"2027-03-01.jsonl": record(1, iso(NOW - 90000)),
                   "2027-03-02.jsonl": newest, "notes.txt": "x"})
    status = LiveStatus.read(tmp_path)
    # La dernière ligne, coupée par un arrêt brutal, est sautée.
    assert status.line(NOW) == ("Direct : 8 événements appliqués, 2 conversations à régler, "
                                "connecté depuis 3 min 05 s, dernier événement journalisé il y "
                                "a 4 s.")


def test_status_line_when_down_and_with_a_bare_state(tmp_path):
    write_journal(tmp_path, {"applied": 1, "connection": {"state": "down",
                                                          "since": "2027-03-02T10:00:00Z"}}, {})
    since = datetime.datetime(2027, 3, 2, 10, tzinfo=datetime.timezone.utc).timestamp()
    assert LiveStatus.read(tmp_path).line(since + 42) == (
        "Direct : 1 événement appliqué, coupé depuis 42 s, aucun événement journalisé.")


@pytest.mark.parametrize("state", ["pas du json", "[]", {"applied": "x", "unsettled": 3,
                                                          "connection": {"state": "?"}}])
def test_status_tolerates_an_unreadable_or_odd_state(tmp_path, state):
    write_journal(tmp_path, state, {"2027-03-02.jsonl": "\n\nillisible\n"})
    assert LiveStatus.read(tmp_path).line(NOW) == (
        "Direct : 0 événement appliqué, aucun événement journalisé.")


def test_status_reads_only_the_tail_of_a_long_journal(tmp_path, monkeypatch):
    from crispscrape import live_status

    monkeypatch.setattr(live_status, "BLOCK", 100)  # plusieurs blocs, lignes à cheval
    lines = "".join(record(n, iso(NOW - 1000 + n)) for n in range(1, 200))
    write_journal(tmp_path, {"applied": 199}, {"2027-03-02.jsonl": lines})
    assert LiveStatus.read(tmp_path).last_event == pytest.approx(NOW - 801, abs=0.01)


# --- Le moniteur « Direct coupé » ---------------------------------------------------------------

def periodic(stats: dict, **settings):
    crawler = bare_crawler(**settings)
    suite = PeriodicMonitors(crawler=crawler)
    MonitorRunner().run(suite, stats=stats, crawler=crawler, spider=None, stats_history=[],
                        job=None)
    return suite.outcome, crawler.stats


def test_live_down_passes_outside_the_live_intake_and_while_connected():
    assert periodic({"crisp_api/requests": 3})[0].failed == 0
    assert periodic({"live/connected": 1, "live/down_since": None})[0].failed == 0
    assert periodic({"live/down_since": time.time() - 14 * 60})[0].failed == 0


def test_live_down_fails_past_the_threshold_with_a_french_line():
    outcome, stats = periodic({"live/connected": 0, "live/down_since": time.time() - 16 * 60})
    [line, total] = outcome.lines
    assert line.startswith("Moniteur Direct coupé : en échec, connexion en direct coupée depuis "
                           "16 min 0")
    assert line.endswith(" s (seuil : 15 min 00 s, CRISP_LIVE_MAX_DOWN_MINUTES) ; le direct "
                         "réessaie toujours, voir les lignes « Direct interrompu ».")
    assert total == "Moniteurs : 3 réussis, 1 en échec."
    assert stats.get_value("monitors/periodic/failed") == 1
    # Un seuil décimal, donné en ligne de commande (texte).
    assert periodic({"live/down_since": time.time() - 3},
                    CRISP_LIVE_MAX_DOWN_MINUTES="0.02")[0].failed == 1
    assert periodic({"live/down_since": time.time() - 3},
                    CRISP_LIVE_MAX_DOWN_MINUTES="0.1")[0].failed == 0


def test_live_down_is_not_an_end_of_run_monitor():
    from crispscrape.monitors.suites import CloseMonitors

    # (Importée par son module : pytest prendrait la classe, un TestCase, pour un test.)
    assert rules.LiveDownMonitor not in CloseMonitors.monitors
