"""Pannes des doublures ninja et wanzo (issue 11) : la couche du bac à sable Crisp, réutilisée.

Latence, vraie limite de débit (429 en JSON de chaque système ou en page HTML, Retry-After),
5xx aléatoires, compteurs /_admin/stats (par nature, par conversation, par statut).
"""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from crispsandbox.standins.process import start_standin
from tests.support.sandbox_process import ROOT

LIST_PATHS = {"ninja": "/conversation/", "wanzo": "/chat/contexts"}


@pytest.fixture(scope="module", params=["ninja", "wanzo"])
def standin(request):
    with start_standin(request.param, seed=2, conversations=10, token="jeton-des-pannes") as running:
        yield running


@pytest.fixture
def faulty(standin):
    """La doublure du module, remise aux pannes du lancement, quota et compteurs à zéro."""
    standin.restore_faults()
    standin.admin("/_admin/quota/reset", method="POST")
    standin.reset_stats()
    yield standin
    standin.restore_faults()


def _burst(standin, count: int) -> list[tuple[int, dict, object]]:
    return [standin.get(LIST_PATHS[standin.system]) for _ in range(count)]


def test_rate_limit_429_json_with_retry_after(faulty):
    faulty.faults(rate_limit=2, non_json_429_ratio=0, retry_after=3)
    answers = _burst(faulty, 8)
    refused = [answer for answer in answers if answer[0] == 429]
    assert 4 <= len(refused) <= 7 and answers[0][0] == 200
    for _, headers, body in refused:
        assert headers["Retry-After"] == "3" and headers["Content-Type"].startswith("application/json")
        assert body == ({"detail": "Trop de requêtes, ralentissez."} if faulty.system == "ninja" else
                        {"statusCode": 429, "message": "Trop de requêtes, ralentissez.", "error": "Too Many Requests"})
    assert faulty.stats()["by_status"]["429"] == len(refused)
    time.sleep(1.1)  # le seau se remplit : un client qui ralentit passe
    assert faulty.get(LIST_PATHS[faulty.system])[0] == 200


def test_rate_limit_429_html(faulty):
    faulty.faults(rate_limit=1, non_json_429_ratio=1)
    refused = [answer for answer in _burst(faulty, 4) if answer[0] == 429]
    assert refused and all(headers["Content-Type"].startswith("text/html") and "429" in body
                           for _, headers, body in refused)
    assert all("Retry-After" not in headers for _, headers, _ in refused)


def test_server_errors(faulty):
    faulty.faults(error_rate=1)
    answers = _burst(faulty, 12)
    assert {status for status, _, _ in answers} <= {500, 502, 503} and len(answers) == 12
    errors = [body for status, _, body in answers if status == 500]
    expected = ({"detail": "Erreur interne simulée."} if faulty.system == "ninja" else
                {"statusCode": 500, "message": "Erreur interne simulée.", "error": "Internal Server Error"})
    assert errors and all(body == expected for body in errors)


def test_latency(faulty):
    faulty.faults(latency_ms=300)
    started = time.monotonic()
    assert faulty.get(LIST_PATHS[faulty.system])[0] == 200
    assert time.monotonic() - started >= 0.3


def test_stats_by_kind_session_and_status(faulty):
    truth = faulty.truth()
    keys = list(truth["messages"])[:2]
    template = "/messages/{}/" if faulty.system == "ninja" else "/chat/contexts/{}/messages"
    faulty.get(LIST_PATHS[faulty.system])
    for key in (keys[0], keys[0], keys[1]):
        faulty.get(template.format(faulty.quote(key)))
    faulty.get(LIST_PATHS[faulty.system], headers={})
    stats = faulty.stats()
    assert stats["calls"] == 5
    assert stats["by_kind"] == {"conversations": 2, "messages": 3, "other": 0}
    assert stats["calls_by_session"] == {keys[0]: 2, keys[1]: 1}
    assert stats["by_status"] == {"200": 4, "401": 1}


@pytest.mark.parametrize("system", ["ninja", "wanzo"])
def test_fault_options_from_command_line(system):
    with start_standin(system, conversations=3, rate_limit=1, non_json_429_ratio=0, error_rate=0) as running:
        faults = running.admin("/_admin/faults")
        assert faults["rate_limit"] == 1 and faults["non_json_429_ratio"] == 0
        statuses = [status for status, _, _ in _burst(running, 3)]
        assert statuses[0] == 200 and 429 in statuses


def test_quota_and_connection_reset(faulty):
    faulty.faults(quota=2)
    answers = _burst(faulty, 3)
    assert [status for status, _, _ in answers] == [200, 200, 423]
    message = "Quota journalier de requêtes dépassé."
    assert answers[2][2] == ({"detail": message} if faulty.system == "ninja" else
                             {"statusCode": 423, "message": message, "error": "Locked"})
    faulty.admin("/_admin/quota/reset", method="POST")
    faulty.faults(quota=0, reset_ratio=1)
    with pytest.raises((ConnectionError, OSError)):
        faulty.get(LIST_PATHS[faulty.system])
    assert faulty.stats()["by_status"]["reset"] == 1


def test_cli_refuses_invalid_standin_options():
    result = subprocess.run(
        [sys.executable, "-m", "crispsandbox", "--system", "wanzo", "--port", "0", "--empty-ratio", "0.8",
         "--long-ratio", "0.5"], cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert result.returncode == 2 and "--empty-ratio + --long-ratio" in result.stderr
