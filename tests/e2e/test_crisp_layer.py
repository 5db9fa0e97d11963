"""La couche Crisp commune : configuration, authentification, erreurs, ralentissement, quota.

Tests unitaires (réponses simulées) pour les petites pièces, puis vrais crawls contre le bac
à sable pour le comportement de bout en bout.
"""

from __future__ import annotations

import base64
import email.utils
import statistics
import time
import types

import pytest
from scrapy.core.downloader import Slot
from scrapy.http import Request, Response
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

import crispscrape.settings as project_settings
from crispscrape.addon import CrispAddon
from crispscrape.api import retry_after_seconds
from crispscrape.outcome import exit_code
from crispscrape.config import ConfigError, CrispConfig, authorization_header
from crispscrape.extensions.autothrottle import CrispAutoThrottle
from crispscrape.middlewares.auth import CrispAuthMiddleware
from crispscrape.middlewares.ratelimit import CrispRateLimitMiddleware
from crispscrape.middlewares.retry import CrispRetryMiddleware, backoff
from crispscrape.arguments import ArgumentError, parse_count, parse_flag
from tests.support.crawling import run_crawl
from tests.support.messages_support import assert_matches_truth, write_conversations

ENV = {"CRISP_IDENTIFIER_PROD": "ident", "CRISP_KEY_PROD": "cle-secrete", "ID_SITE_CRISP": "site"}


PROJECT_SETTINGS = {k: getattr(project_settings, k) for k in dir(project_settings) if k.isupper()}


def project(**overrides) -> Settings:
    """Réglages du projet, défauts de l'add-on compris (un crawler les appliquerait lui-même)."""
    settings = Settings()
    settings.setmodule(project_settings)
    CrispAddon().update_settings(settings)
    settings.update(overrides)
    return settings


# --- Unitaires -----------------------------------------------------------------------
def test_config_aliases_and_setting_wins_over_environment():
    aliases = {"CRISP_TOKEN_ID": "i", "CRISP_TOKEN_KEY": "k", "CRISP_WEBSITE_ID": "w"}
    config = CrispConfig.from_settings(project(), aliases)
    assert config.website_id == "w" and config.api_url == "https://api.crisp.chat/v1"
    assert authorization_header(project(), aliases) == b"Basic " + base64.b64encode(b"i:k")
    overridden = CrispConfig.from_settings(
        project(CRISP_DATA_DIR="/donnees", CRISP_API_URL="http://x/v1/"),
        {**ENV, "CRISP_DATA_DIR": "/ailleurs"})
    assert str(overridden.data_dir) == "/donnees" and overridden.api_url == "http://x/v1"
    assert "cle-secrete" not in repr(overridden)


def test_missing_credentials_are_named_in_french():
    with pytest.raises(ConfigError) as error:
        CrispConfig.from_settings(project(), {"ID_SITE_CRISP": "w"})
    message = str(error.value)
    assert "CRISP_IDENTIFIER_PROD" in message and "CRISP_KEY_PROD" in message
    assert "ID_SITE_CRISP" not in message and "manquants" in message


def test_auth_middleware_sets_the_three_headers_only_on_api_requests(monkeypatch):
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    crawler = get_crawler(settings_dict={**PROJECT_SETTINGS, "CRISP_API_URL": "http://127.0.0.1:1/v1"})
    crawler.stats.open_spider()
    middleware = CrispAuthMiddleware.from_crawler(crawler)
    api = Request("http://127.0.0.1:1/v1/website/site/conversations/1")
    middleware.process_request(api)
    assert api.headers[b"Authorization"] == b"Basic " + base64.b64encode(b"ident:cle-secrete")
    assert api.headers[b"X-Crisp-Tier"] == b"plugin"
    assert api.headers[b"Content-Type"] == b"application/json"
    other = Request("http://127.0.0.1:1/ailleurs")
    middleware.process_request(other)
    assert b"Authorization" not in other.headers


@pytest.mark.parametrize("value,expected", [(None, 50), ("100", 100), (7, 7), (" 3 ", 3)])
def test_nb_accepts_numbers_and_strings(value, expected):
    assert parse_count(value, "nb", 50) == expected


@pytest.mark.parametrize("value", ["abc", "-3", "0", "1.5", ""])
def test_nb_rejects_bad_values_in_french(value):
    with pytest.raises(ArgumentError, match="nombre entier positif"):
        parse_count(value, "nb", 50)


def test_reset_flag_words():
    assert all(parse_flag(word, "reset") for word in ["1", "true", "yes", "oui", "OUI"])
    assert not any(parse_flag(word, "reset") for word in [None, "0", "non", "false"])
    with pytest.raises(ArgumentError):
        parse_flag("peut-être", "reset")


def test_backoff_grows_exponentially_with_jitter_and_a_cap():
    for attempt in range(1, 8):
        step = min(60.0, 1.0 * 2 ** (attempt - 1))
        values = [backoff(1.0, attempt, 60.0) for _ in range(50)]
        assert all(step / 2 <= v <= step for v in values)
        assert len(set(values)) > 1  # gigue


def test_retry_after_seconds_and_http_date():
    response = Response("http://x", status=429, headers={"Retry-After": "7"})
    assert retry_after_seconds(response) == 7.0
    later = email.utils.formatdate(time.time() + 30, usegmt=True)
    dated = Response("http://x", status=429, headers={"Retry-After": later})
    assert 25 <= retry_after_seconds(dated) <= 31
    assert retry_after_seconds(Response("http://x", status=429)) is None


@pytest.mark.parametrize("stats,code", [
    ({"finish_reason": "finished"}, 0),
    ({"finish_reason": "finished", "crisp_api/failed": 2}, 1),
    ({"finish_reason": "quota"}, 2),
    ({"finish_reason": "shutdown"}, 2),
    ({"finish_reason": "cancelled"}, 2),
    ({"finish_reason": "unauthorized"}, 1),
    ({"finish_reason": "bad_argument"}, 1),
])
def test_exit_codes(stats, code):
    assert exit_code(stats) == code


def _throttle():
    crawler = get_crawler(settings_dict=PROJECT_SETTINGS)
    extension = CrispAutoThrottle(crawler)
    extension.mindelay, extension.maxdelay = 0.0, 60.0
    return extension


def test_autothrottle_relaxes_on_206_which_scrapy_alone_never_does():
    extension = _throttle()
    slot = Slot(concurrency=8, delay=2.0)
    extension._adjust_delay(slot, 0.01, Response("http://x", status=206))
    assert slot.delay < 2.0


def test_autothrottle_slot_delay_is_the_longer_of_latency_and_rate_limit():
    extension = _throttle()
    extension.crawler.stats.open_spider()
    now = [0.0]
    extension.clock = lambda: now[0]
    slot = Slot(concurrency=8, delay=0.1)

    def answer(status: int, at: float) -> None:
        now[0] = at
        extension._adjust_delay(slot, 0.005, Response("http://x", status=status))

    for i in range(100):  # une seconde à 100 req/s, 5 ms de latence
        answer(206, i / 100)
    latency_delay = slot.delay
    assert latency_delay < 0.01
    answer(429, 1.0)
    # Ralenti : ~100 req/s mesurés, divisés par 2 au premier refus (aucune limite connue).
    assert 0.015 <= slot.delay <= 0.025
    assert extension.crawler.stats.get_value("crisp_throttle/slowdowns") == 1
    answer(200, 1.01)
    assert slot.delay >= 0.015, "une bonne réponse ne lève pas la limite pendant l'essai"
    # Les refus continuent, une réponse sur dix, au rythme réduit : ce n'était pas notre
    # rythme, le délai redevient celui de la latence.
    at, i = 1.01, 0
    while extension.crawler.stats.get_value("crisp_throttle/slowdowns_undone") is None:
        i += 1
        at += slot.delay
        answer(429 if i % 10 == 0 else 200, at)
        assert i < 200, "les refus sans rapport avec notre rythme n'ont pas été reconnus"
    assert slot.delay < 0.01


def test_retry_after_pauses_the_whole_slot_instead_of_spacing_every_request():
    # Retry-After : une pause de tout le slot jusqu'à l'échéance (le téléchargeur n'envoie
    # rien avant lastseen + délai), pas un espacement de 3 s imposé ensuite à chaque requête.
    crawler = get_crawler(settings_dict=PROJECT_SETTINGS)
    crawler.stats.open_spider()
    slot = Slot(concurrency=8, delay=0.05)
    crawler.engine = types.SimpleNamespace(downloader=types.SimpleNamespace(
        slots={"api": slot}, DOWNLOAD_SLOT="download_slot"))
    middleware = CrispRateLimitMiddleware.from_crawler(crawler)
    request = Request("http://x/v1/a", meta={"download_slot": "api"})
    retry = middleware.process_response(
        request, Response(request.url, status=420, headers={"Retry-After": "3"}))
    assert retry.meta["crisp_backoff"] == 3.0
    assert slot.lastseen + slot.delay >= time.monotonic() + 2.9
    assert slot.delay == 0.05


# --- Vrais crawls --------------------------------------------------------------------
def test_missing_credentials_refused_before_any_call(sandbox, data_dir):
    write_conversations(sandbox, data_dir)
    before = sorted(p.relative_to(data_dir) for p in data_dir.rglob("*"))
    env = sandbox.env()
    del env["CRISP_KEY_PROD"]
    result = run_crawl("messages", data_dir, env)
    assert result.returncode == 1
    assert result.reason == "config_error"
    assert "CRISP_KEY_PROD (ou CRISP_TOKEN_KEY)" in result.log
    assert sorted(p.relative_to(data_dir) for p in data_dir.rglob("*")) == before
    assert sandbox.admin("/_admin/stats")["calls"] == 0


@pytest.mark.parametrize("variable,value,reason,message", [
    ("CRISP_KEY_PROD", "mauvaise-cle", "unauthorized", "Identifiants Crisp refusés (HTTP 401)"),
    ("ID_SITE_CRISP", "00000000-0000-0000-0000-000000000000", "not_subscribed",
     "n'est pas lié à ce jeton Crisp"),
])
def test_refused_access_stops_after_a_single_call(sandbox, data_dir, variable, value, reason,
                                                  message):
    write_conversations(sandbox, data_dir)
    result = run_crawl("messages", data_dir, {**sandbox.env(), variable: value}, args={"nb": 30})
    assert result.returncode == 1
    assert result.reason == reason
    assert message in result.log
    assert sandbox.admin("/_admin/stats")["calls"] == 1
    assert "mauvaise-cle" not in result.log


def test_key_given_as_setting_never_reaches_the_log(sandbox, data_dir):
    write_conversations(sandbox, data_dir)
    env = sandbox.env()
    key = env.pop("CRISP_KEY_PROD")
    result = run_crawl("messages", data_dir, env, args={"nb": 3}, settings={"CRISP_KEY_PROD": key})
    assert result.returncode == 0, result.log[-2000:]
    token = base64.b64encode(f"{env['CRISP_IDENTIFIER_PROD']}:{key}".encode()).decode()
    assert key not in result.log and token not in result.log
    assert key not in str(result.stats)


def test_unknown_conversation_is_confirmed_removed_and_the_crawl_goes_on(sandbox, data_dir):
    """Listée ici, inconnue de Crisp : le 404 de ses messages est confirmé par un appel sur
    la conversation elle-même (404 aussi), puis elle est effacée (issue 21,
    tests/e2e/test_removals.py) ; les autres sont exportées normalement."""
    conversations = sandbox.admin("/_admin/truth/conversations")[:3]
    ghost = {**conversations[0], "session_id": "session_00000000-dead-beef-0000-000000000000"}
    write_conversations(sandbox, data_dir, [conversations[0], ghost, *conversations[1:]])
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 10})
    assert result.returncode == 0, result.log[-2000:]
    assert result.stats["crisp_api/not_found"] == 2  # ses messages, puis la confirmation
    assert result.stats["removed/conversations"] == 1
    assert "messages/conversations_not_found" not in result.stats
    assert not (data_dir / "conversations" / "messages" / f"{ghost['session_id']}.jsonl").exists()
    listing = (data_dir / "conversations" / "conversations.jsonl").read_text()
    assert ghost["session_id"] not in listing
    assert_matches_truth(sandbox, data_dir, [c["session_id"] for c in conversations])


def test_server_errors_are_retried_until_everything_is_exported(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=4, conversations=20, error_rate=0.25)
    conversations = write_conversations(sandbox, data_dir)
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100},
                       settings={"RETRY_TIMES": 12, "CRISP_RETRY_BASE_DELAY": 0.01})
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["retry/count"] > 0
    assert_matches_truth(sandbox, data_dir, [c["session_id"] for c in conversations])


def test_failed_resource_is_reported_and_resumed_next_run(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=5, conversations=10)
    conversations = write_conversations(sandbox, data_dir)
    sandbox.admin("/_admin/faults", method="POST", json={"error_rate": 1.0})
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 3},
                       settings={"RETRY_TIMES": 1, "CRISP_RETRY_BASE_DELAY": 0.01})
    assert result.returncode == 1
    assert result.stats["crisp_api/failed"] == 3
    assert "Échec définitif" in result.log
    assert not list((data_dir / "conversations" / "messages").glob("*.jsonl"))
    sandbox.admin("/_admin/faults", method="POST", json={"error_rate": 0.0})
    again = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 3})
    assert again.returncode == 0, again.log[-2000:]
    # Les trois en échec sont reprises en premier, avant d'avancer le curseur.
    assert_matches_truth(sandbox, data_dir, [c["session_id"] for c in conversations[:3]])


@pytest.mark.parametrize("options", [
    {"rate_limit": 8, "non_json_429_ratio": 0.5},
    {"rate_limit": 8, "rate_limit_status": 420, "non_json_429_ratio": 1.0},
])
def test_rate_limited_sandbox_everything_succeeds(sandbox_factory, data_dir, options):
    sandbox = sandbox_factory(seed=6, conversations=20, **options)
    conversations = write_conversations(sandbox, data_dir)
    # Départ sans délai : avant le premier refus, les appels partent vraiment en rafale.
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100},
                       settings={"CRISP_THROTTLE_BASE_DELAY": 0.2, "AUTOTHROTTLE_START_DELAY": 0})
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["crisp_throttle/throttled"] > 0
    assert result.stats["crisp_throttle/wait_seconds"] > 0
    assert result.stats.get("crisp_api/failed", 0) == 0
    assert_matches_truth(sandbox, data_dir, [c["session_id"] for c in conversations])
    # Vu du serveur : avant le premier refus, les appels partent en rafale ; après, tout le
    # crawl s'espace (délai du slot relevé), pas seulement la requête refusée.
    calls = sandbox.admin("/_admin/calls")["calls"]
    times = [arrival for arrival, _ in calls]
    first_refusal = next(i for i, (_, status) in enumerate(calls) if status != "200" and status != "206")
    gaps = [b - a for a, b in zip(times, times[1:], strict=False)]
    assert first_refusal >= 2
    assert statistics.median(gaps[first_refusal:]) > 3 * statistics.median(gaps[:first_refusal])
    # Et le débit obtenu ensuite reste du même ordre que la limite du serveur (8/s).
    rate_after = (len(times) - first_refusal - 1) / (times[-1] - times[first_refusal])
    assert rate_after < 2 * options["rate_limit"]


def test_retry_after_is_honoured(sandbox_factory, data_dir):
    # Assez d'appels, partis en rafale, pour dépasser à coup sûr le seau de 5 req/s.
    sandbox = sandbox_factory(seed=6, conversations=20, rate_limit=5, retry_after=1)
    conversations = write_conversations(sandbox, data_dir)
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100},
                       settings={"AUTOTHROTTLE_START_DELAY": 0})
    assert result.returncode == 0, result.log[-3000:]
    throttled = result.stats["crisp_throttle/throttled"]
    assert throttled > 0
    assert result.stats["crisp_throttle/wait_seconds"] >= throttled * 1.0
    assert_matches_truth(sandbox, data_dir, [c["session_id"] for c in conversations])


def test_throttle_wait_cap_stops_cleanly_with_quota_reason(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=6, conversations=20, rate_limit=2)
    write_conversations(sandbox, data_dir)
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": 100},
                       settings={"CRISP_THROTTLE_MAX_TOTAL_WAIT": 1.0,
                                 "CRISP_THROTTLE_BASE_DELAY": 0.4})
    assert result.returncode == 2, result.log[-3000:]
    assert result.reason == "quota"
    assert "Ralentissement trop long" in result.log
    state = data_dir / "conversations" / "messages" / "messages.jsonl.state.json"
    assert state.exists()


def test_throttled_request_is_never_abandoned_and_waits_longer_each_time():
    crawler = get_crawler(settings_dict={**PROJECT_SETTINGS, "RETRY_TIMES": 2})
    crawler.stats.open_spider()
    middleware = CrispRateLimitMiddleware.from_crawler(crawler)
    request = Request("http://127.0.0.1:1/v1/website/s/conversations/1")
    waits = []
    for attempt in range(1, 13):  # bien au-delà de RETRY_TIMES
        retry = middleware.process_response(request, Response(request.url, status=429))
        assert isinstance(retry, Request), f"abandon au {attempt}e refus"
        assert retry.meta["crisp_throttled"] == attempt
        waits.append(retry.meta["crisp_backoff"])
        request = retry
    # Recul exponentiel (avec gigue) jusqu'au plafond de 60 s.
    assert waits[0] <= 1.0 and waits[5] >= 16.0 and max(waits) <= 60.0
    assert crawler.stats.get_value("crisp_throttle/throttled") == 12
    assert crawler.stats.get_value("crisp_throttle/wait_seconds") == round(sum(waits), 3)
    # Une erreur 5xx, elle, n'est pas son affaire : elle reste limitée à RETRY_TIMES par le
    # middleware de réessai, avec un recul avant chaque réessai.
    from scrapy import Spider

    plain = Request("http://127.0.0.1:1/v1/website/s/conversations/2")
    assert middleware.process_response(plain, Response(plain.url, status=503)).status == 503
    crawler.spider = Spider.from_crawler(crawler, name="essai")
    retry_middleware = CrispRetryMiddleware.from_crawler(crawler)
    for _ in range(2):
        plain = retry_middleware.process_response(plain, Response(plain.url, status=503))
        assert isinstance(plain, Request) and plain.meta["crisp_backoff"] > 0
    assert isinstance(retry_middleware.process_response(plain, Response(plain.url, status=503)),
                      Response)
