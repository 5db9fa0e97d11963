"""Preuve sous le feu, export des messages : les pannes de l'API, seules puis ensemble.

Chaque cas lance de vrais ``scrapy crawl messages`` contre le bac à sable, dont les
pannes sont tirées d'un générateur à graine : à suite d'appels identique, pannes
identiques (les cas ci-dessous en subissent toujours plusieurs). Pour chaque cas :
l'export finit complet (ou s'arrête proprement en disant pourquoi, puis une relance le
complète), rien n'est perdu ni dupliqué (``assert_matches_truth``), et les statistiques
comme le récapitulatif français racontent ce qui s'est passé, chiffres du bac à sable à
l'appui.
"""

from __future__ import annotations

import json
import re
import time

import pytest

from tests.support.crawling import run_crawl, start_crawl
from tests.support.fire_support import Truth, inspect_export, messages_dir, read_state
from tests.support.interrupting import FAST, summary_block
from tests.support.messages_support import (
    assert_matches_truth,
    calls_by_session,
    minimum_calls,
    write_conversations,
)

ARGS = {"nb": 100}
SERVER_ERRORS = {"500": "500 Internal Server Error", "502": "502 Bad Gateway",
                 "503": "503 Service Unavailable"}


def _server_side(sandbox) -> dict:
    return sandbox.admin("/_admin/stats")


def _export_with_faults(sandbox_factory, data_dir, faults, settings=None, seed=3):
    sandbox = sandbox_factory(seed=seed, conversations=15)
    ids = [c["session_id"] for c in write_conversations(sandbox, data_dir)]
    sandbox.admin("/_admin/faults", method="POST", json=faults)
    result = run_crawl("messages", data_dir, sandbox.env(), args=ARGS,
                       settings={**FAST, **(settings or {})})
    return sandbox, ids, result


def _assert_finished_and_exact(sandbox, data_dir, ids, result):
    assert result.returncode == 0, result.log[-3000:]
    assert result.reason == "finished"
    assert result.stats.get("crisp_api/failed", 0) == 0
    assert_matches_truth(sandbox, data_dir, ids)
    assert read_state(data_dir)["incomplete"] == {}
    summary = summary_block(result.log)
    # Les messages sont complets ; le reste du compte (profils, liste) n'est pas exporté ici.
    assert "Fin : exécution terminée ; il reste" in summary
    assert "Messages : " in summary and f"{len(ids)}/{len(ids)} conversations complètes" in summary
    assert f"Appels à l'API : {result.stats['crisp_api/requests']}," in summary
    return summary


# --- Pannes passagères, une à la fois --------------------------------------------------
def test_random_server_errors_are_each_retried_once(sandbox_factory, data_dir):
    sandbox, ids, result = _export_with_faults(sandbox_factory, data_dir, {"error_rate": 0.1})
    _assert_finished_and_exact(sandbox, data_dir, ids, result)
    by_status = _server_side(sandbox)["by_status"]
    errors = {code: by_status.get(code, 0) for code in SERVER_ERRORS}
    assert sum(errors.values()) > 0
    # Chaque 5xx servi par le bac à sable a donné exactement un réessai, compté par raison.
    assert result.stats["retry/count"] == sum(errors.values())
    for code, count in errors.items():
        assert result.stats.get(f"retry/reason_count/{SERVER_ERRORS[code]}", 0) == count
    assert result.stats["crisp_api/requests"] == _server_side(sandbox)["calls"]


@pytest.mark.parametrize("status,non_json", [("429", 0.0), ("429", 1.0), ("420", 0.0)],
                         ids=["429-json", "429-html", "420-json"])
def test_rate_limit_bursts_are_waited_out(sandbox_factory, data_dir, status, non_json):
    """Rafales de refus de débit, avec corps JSON Crisp ou page HTML d'un répartiteur."""
    sandbox, ids, result = _export_with_faults(
        sandbox_factory, data_dir,
        {"rate_limit": 10, "rate_limit_status": int(status), "non_json_429_ratio": non_json})
    summary = _assert_finished_and_exact(sandbox, data_dir, ids, result)
    refused = _server_side(sandbox)["by_status"].get(status, 0)
    assert refused > 0
    assert result.stats["crisp_throttle/throttled"] == refused
    assert result.stats[f"crisp_throttle/status/{status}"] == refused
    assert result.stats["crisp_throttle/wait_seconds"] > 0
    assert "retry/count" not in result.stats  # un ralentissement n'use pas les réessais
    assert f"API ralentie (HTTP {status})" in result.log
    assert f"dont ralentis (429/420) : {refused}," in summary


@pytest.mark.parametrize("faults,settings,reason", [
    ({"latency_spike_ms": 2500, "latency_spike_ratio": 0.1}, {"DOWNLOAD_TIMEOUT": 1},
     "scrapy.exceptions.DownloadTimeoutError"),
    # Twisted renvoie une fois, sans rien dire, un GET dont la connexion réutilisée est
    # coupée : seule une coupure du renvoi aussi devient un réessai visible. À 50 %, en
    # voir au moins un est quasi certain (à 10 %, un export de 15 conversations n'en
    # montrait parfois aucun).
    ({"reset_ratio": 0.5}, {}, "scrapy.exceptions.DownloadFailedError"),
    ({"truncated_ratio": 0.15}, {}, "invalid_json"),
    ({"error_envelope_ratio": 0.15}, {}, "error_envelope"),
    ({"wrong_type_ratio": 0.15}, {}, "invalid_data"),
    ({"broken_message_ratio": 0.15}, {}, "invalid_message"),
], ids=["timeout-spikes", "connection-resets", "truncated-json", "error-envelope-200",
        "wrong-data-type", "messages-without-fingerprint-or-timestamp"])
def test_transient_faults_are_retried_until_complete(sandbox_factory, data_dir, faults,
                                                     settings, reason):
    sandbox, ids, result = _export_with_faults(sandbox_factory, data_dir, faults, settings)
    _assert_finished_and_exact(sandbox, data_dir, ids, result)
    assert result.stats.get(f"retry/reason_count/{reason}", 0) > 0, {
        k: v for k, v in result.stats.items() if k.startswith("retry/")}
    if "reset_ratio" in faults:
        assert _server_side(sandbox)["by_status"].get("reset", 0) > 0


def test_summary_tells_how_many_transient_errors_were_retried(sandbox_factory, data_dir):
    """Le récapitulatif doit dire combien d'erreurs passagères (5xx, délais dépassés, réponses
    illisibles) ont été réessayées : sans cela, un export qui a souffert a le même résumé
    qu'un export sans histoire, et seules les statistiques brutes le trahissent."""
    sandbox, ids, result = _export_with_faults(
        sandbox_factory, data_dir, {"error_rate": 0.1, "truncated_ratio": 0.1})
    summary = _assert_finished_and_exact(sandbox, data_dir, ids, result)
    retries = result.stats["retry/count"]
    assert retries > 0
    assert re.search(rf"[Rr]éessai[^\n]*\b{retries}\b", summary), summary


# --- Pannes durables -----------------------------------------------------------------
def _single_long_conversation(sandbox, data_dir):
    """Entrée réduite à la plus longue conversation (350 messages, 9 lots)."""
    conversations = sandbox.admin("/_admin/truth/conversations")
    counts = sandbox.admin("/_admin/truth/counts")
    big = max(conversations, key=lambda c: counts[c["session_id"]])
    write_conversations(sandbox, data_dir, [big])
    return big["session_id"], -(-counts[big["session_id"]] // 40)


def _wait_for_call(sandbox, session_id, count, process, timeout=30):
    deadline = time.monotonic() + timeout
    while calls_by_session(sandbox).get(session_id, 0) < count:
        assert process.poll() is None, "le crawl a fini trop tôt"
        assert time.monotonic() < deadline, "appel attendu jamais reçu"
        time.sleep(0.003)


def test_permanent_failure_mid_pagination_keeps_the_partial_file_and_resumes(
        sandbox_factory, data_dir):
    """Les premiers lots arrivent, puis chaque lot perd ses fingerprints, durablement : la
    conversation échoue après les réessais (code 1, « Échec définitif »), ce qui est déjà
    reçu est gardé en partiel et noté incomplet ; la relance reprend sous le partiel."""
    sandbox = sandbox_factory(seed=1, conversations=10, latency_ms=150)
    session_id, pages = _single_long_conversation(sandbox, data_dir)
    stats_file = data_dir.parent / "stats.json"
    process = start_crawl("messages", data_dir, sandbox.env(), args=ARGS,
                          settings={**FAST, "RETRY_TIMES": 2}, stats_file=stats_file)
    try:
        # Le 3e appel attend encore sa latence : sa réponse et les suivantes seront abîmées.
        _wait_for_call(sandbox, session_id, 3, process)
        sandbox.admin("/_admin/faults", method="POST", json={"broken_message_ratio": 1.0})
        log, _ = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    stats = json.loads(stats_file.read_text())
    assert process.returncode == 1, log[-3000:]
    assert stats["finish_reason"] == "finished"
    assert stats["crisp_api/failed"] == 1
    assert stats["retry/reason_count/invalid_message"] == 2
    assert "Échec définitif" in log and "message sans fingerprint ou timestamp" in log
    summary = summary_block(log)
    assert ("Ressources en échec après réessais : 1 (reprises à la prochaine exécution)."
            in summary)
    assert "dont incomplètes, à reprendre : 1" in summary
    truth = Truth(sandbox, [session_id])
    inspection = inspect_export(data_dir, truth)
    assert not inspection.problems, inspection.problems
    assert inspection.partial == {session_id}
    assert session_id in read_state(data_dir)["incomplete"]
    kept = len((messages_dir(data_dir) / f"{session_id}.jsonl").read_text().splitlines())
    # Les deux lots reçus intacts (chevauchement d'une milliseconde dédoublonné), rien de plus.
    assert 40 < kept <= 80

    sandbox.admin("/_admin/faults/reset", method="POST")
    sandbox.admin("/_admin/stats/reset", method="POST")
    again = run_crawl("messages", data_dir, sandbox.env(), args=ARGS, settings=FAST)
    assert again.returncode == 0, again.log[-3000:]
    assert_matches_truth(sandbox, data_dir, [session_id])
    assert read_state(data_dir)["incomplete"] == {}
    # Reprise sous le partiel : le lot du haut, puis les lots manquants, pas tout.
    assert calls_by_session(sandbox)[session_id] <= pages - 2 + 2


def test_daily_quota_mid_pagination_stops_cleanly_and_resumes_exactly_there(
        sandbox_factory, data_dir):
    """423 au 5e appel, en pleine pagination : arrêt propre (code 2, raison « quota »),
    partiel sauvé et noté ; après la remise à zéro du quota, la relance ne redemande que
    le haut et les lots manquants."""
    sandbox = sandbox_factory(seed=1, conversations=10, quota=4)
    session_id, pages = _single_long_conversation(sandbox, data_dir)
    first = run_crawl("messages", data_dir, sandbox.env(), args=ARGS, settings=FAST)
    assert first.returncode == 2, first.log[-3000:]
    assert first.reason == "quota"
    assert first.stats["crisp_throttle/quota_exceeded"] == 1
    assert first.stats.get("crisp_api/failed", 0) == 0
    assert "Quota quotidien de l'API Crisp atteint (423 quota_limit_exceeded)" in first.log
    summary = summary_block(first.log)
    assert "Fin : quota atteint, arrêt prévu, reprise au prochain lancement" in summary
    assert "dont incomplètes, à reprendre : 1" in summary
    assert _server_side(sandbox)["by_status"]["423"] == 1
    inspection = inspect_export(data_dir, Truth(sandbox, [session_id]))
    assert not inspection.problems and inspection.partial == {session_id}
    kept = len((messages_dir(data_dir) / f"{session_id}.jsonl").read_text().splitlines())
    assert 120 < kept <= 160  # les quatre lots permis par le quota

    sandbox.admin("/_admin/quota/reset", method="POST")
    sandbox.admin("/_admin/faults", method="POST", json={"quota": 0})
    sandbox.admin("/_admin/stats/reset", method="POST")
    again = run_crawl("messages", data_dir, sandbox.env(), args=ARGS, settings=FAST)
    assert again.returncode == 0, again.log[-3000:]
    assert_matches_truth(sandbox, data_dir, [session_id])
    assert calls_by_session(sandbox)[session_id] <= pages - 4 + 2


# --- Toutes les pannes ensemble --------------------------------------------------------
# Chaque sorte de panne du bac à sable, et le motif de réessai sous lequel Scrapy la compte
# (``retry/reason_count/…``) ; le refus de débit passe par l'étrangleur, pas par un réessai.
PLANNED = {
    "latency_spike": "scrapy.exceptions.DownloadTimeoutError",
    "reset": "scrapy.exceptions.DownloadFailedError",
    "throttle": None,
    "error_500": "500 Internal Server Error",
    "error_502": "502 Bad Gateway",
    "error_503": "503 Service Unavailable",
    "truncated": "invalid_json",
    "error_envelope": "error_envelope",
    "wrong_type": "invalid_data",
    "broken_messages": "invalid_message",
}


def test_all_faults_together_with_a_quota_stop_then_reruns(sandbox_factory, data_dir):
    """5xx, 429 (JSON ou HTML), pics de latence au-delà du délai, coupures, JSON tronqué,
    enveloppe d'erreur en 200, mauvais type, messages abîmés, et un quota épuisé à
    mi-chemin : arrêt propre sur quota, puis des relances ordinaires complètent l'export
    à l'identique ; les statistiques cumulées montrent chaque sorte de panne traitée.

    Les pannes sont tirées au hasard, et l'ordre d'arrivée des appels concurrents dépend du
    rythme de la machine : une sorte de panne pouvait manquer au mélange. Le plan du bac à
    sable donne donc d'abord chaque sorte une fois, à coup sûr ; le hasard fait le reste."""
    sandbox = sandbox_factory(seed=5, conversations=20)
    ids = [c["session_id"] for c in write_conversations(sandbox, data_dir)]
    truth = Truth(sandbox, ids)
    quota = minimum_calls(sandbox, ids) // 2
    sandbox.admin("/_admin/faults", method="POST", json={
        # Refus tirés au hasard en plus de la limite de débit : des 429 même si la machine,
        # chargée, n'envoie pas assez vite pour dépasser 20 requêtes/s.
        "error_rate": 0.1, "rate_limit": 20, "non_json_429_ratio": 0.5,
        "throttle_ratio": 0.15, "throttle_status": 429,
        "latency_spike_ms": 2000, "latency_spike_ratio": 0.05, "reset_ratio": 0.05,
        "truncated_ratio": 0.05, "error_envelope_ratio": 0.05, "wrong_type_ratio": 0.05,
        "broken_message_ratio": 0.05, "quota": quota, "fault_plan": list(PLANNED)})
    settings = {**FAST, "DOWNLOAD_TIMEOUT": 1}
    first = run_crawl("messages", data_dir, sandbox.env(), args=ARGS, settings=settings)
    assert first.returncode == 2, first.log[-3000:]
    assert first.reason == "quota"
    assert "Fin : quota atteint, arrêt prévu, reprise au prochain lancement" in summary_block(first.log)
    inspection = inspect_export(data_dir, truth)
    assert not inspection.problems, inspection.problems
    assert inspection.complete < set(ids)

    sandbox.admin("/_admin/quota/reset", method="POST")
    sandbox.admin("/_admin/faults", method="POST", json={"quota": 0})
    runs = [first]
    for _ in range(3):
        runs.append(run_crawl("messages", data_dir, sandbox.env(), args=ARGS, settings=settings))
        if runs[-1].returncode == 0 and not read_state(data_dir)["incomplete"]:
            break
    last = runs[-1]
    _assert_finished_and_exact(sandbox, data_dir, ids, last)
    total = {}
    for run in runs:
        for key, value in run.stats.items():
            if isinstance(value, (int, float)) and key.startswith(("retry/", "crisp_")):
                total[key] = total.get(key, 0) + value
    assert total.get("crisp_throttle/throttled", 0) > 0, sorted(total)
    assert sandbox.admin("/_admin/faults")["fault_plan_left"] == 0  # toutes données
    reasons = {key.split("/", 2)[2] for key in total if key.startswith("retry/reason_count/")}
    # Chaque panne donnée a été réessayée sous son motif, et aucune autre sorte d'échec.
    assert reasons == {reason for reason in PLANNED.values() if reason}, reasons
    assert total["crisp_api/requests"] <= _server_side(sandbox)["calls"]
