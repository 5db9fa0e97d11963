"""Tests du service JSON-RPC (crispscrape.jsonrpc) sur un vrai crawl.

Un vrai crawl tourne dans un sous-processus (``scrapy runspider``) contre un
serveur local lent (aiohttp) ; les tests l'interrogent en HTTP depuis ce
processus, avec le client de scrapy-jsonrpc tel quel et avec urllib.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest
from aiohttp import web

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    # Le paquet du projet doit être importable même si pytest est lancé d'ailleurs.
    sys.path.insert(0, str(ROOT))

import crispscrape.jsonrpc  # noqa: E402,F401 - rend scrapy_jsonrpc importable
from scrapy_jsonrpc.jsonrpc import JsonRpcError, jsonrpc_client_call  # noqa: E402
from tests.support.live import LISTENING_RE, LiveLog, Secrets, listening_sockets  # noqa: E402

PAGES = 600
LATENCY = 0.05

SPIDER_SOURCE = '''
import base64
import os
import pathlib

import scrapy


class MarkerPipeline:
    """Écrit un témoin à la fermeture : prouve que les pipelines sont fermés."""

    def process_item(self, item):
        return item

    def close_spider(self):
        pathlib.Path(os.environ["JSONRPC_TEST_MARKERS"], "pipeline_closed").write_text("ok")


class SlowSpider(scrapy.Spider):
    name = "slow"
    jsonrpc_counters = ("pages_seen",)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.pages_seen = 0
        credentials = f"{os.environ['CRISP_IDENTIFIER_PROD']}:{os.environ['CRISP_KEY_PROD']}"
        # Attribut « secret » du spider : ne doit jamais être atteignable.
        self.auth_header = "Basic " + base64.b64encode(credentials.encode()).decode()
        self.crisp_key = os.environ["CRISP_KEY_PROD"]

    async def start(self):
        for n in range(int(self.pages)):
            yield scrapy.Request(
                f"{self.base_url}/page/{n}",
                headers={"Authorization": self.auth_header},
                dont_filter=True,
            )

    def parse(self, response):
        self.pages_seen += 1
        yield {"n": self.pages_seen}

    def closed(self, reason):
        pathlib.Path(os.environ["JSONRPC_TEST_MARKERS"], "spider_closed").write_text(reason)
'''


# --- Serveur lent ---------------------------------------------------------------------


class SlowSite:
    """Serveur HTTP local (aiohttp, fil à part) qui répond en LATENCY secondes."""

    def __init__(self) -> None:
        self.authorizations: set[str] = set()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None
        self.url = ""

    async def _page(self, request: web.Request) -> web.Response:
        self.authorizations.add(request.headers.get("Authorization", ""))
        await asyncio.sleep(LATENCY)
        return web.Response(text=f"<html><body>page {request.match_info['n']}</body></html>",
                            content_type="text/html")

    async def _start(self) -> None:
        app = web.Application()
        app.router.add_get("/page/{n}", self._page)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        host, port = self.runner.addresses[0][:2]
        self.url = f"http://{host}:{port}"

    def start(self) -> None:
        self.thread.start()
        asyncio.run_coroutine_threadsafe(self._start(), self.loop).result(10)

    def stop(self) -> None:
        assert self.runner is not None
        asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture(scope="module")
def slow_site():
    site = SlowSite()
    site.start()
    yield site
    site.stop()


# --- Crawl en sous-processus ----------------------------------------------------------


class CrawlRun(LiveLog):
    """Un ``scrapy runspider`` du spider de test, avec son journal lu en direct."""

    def __init__(self, workdir: Path, site_url: str, secrets: Secrets, **settings: str) -> None:
        self.workdir = workdir
        self.markers = workdir / "markers"
        self.markers.mkdir(parents=True, exist_ok=True)
        (workdir / "jsonrpc_test_spider.py").write_text(SPIDER_SOURCE)
        self.secrets = secrets
        base_settings = {
            "EXTENSIONS": json.dumps({"crispscrape.jsonrpc.webservice.SecureWebService": 500}),
            "ITEM_PIPELINES": json.dumps({"jsonrpc_test_spider.MarkerPipeline": 100}),
            # Décision du projet : JSON-RPC est la seule surface de contrôle à distance.
            "REMOTE_CONTROL_ENABLED": "False",
            "TELNETCONSOLE_ENABLED": "False",
            "JSONRPC_ENABLED": "1",
            "JSONRPC_PORT": "0",
            "LOG_LEVEL": "INFO",
            "CONCURRENT_REQUESTS_PER_DOMAIN": "2",
            "CRISP_IDENTIFIER_PROD": secrets.identifier,
            "CRISP_KEY_PROD": secrets.key,
            "DEFAULT_REQUEST_HEADERS": json.dumps({"Authorization": f"Basic {secrets.basic}"}),
        }
        base_settings.update(settings)
        command = [sys.executable, "-m", "scrapy", "runspider", "jsonrpc_test_spider.py",
                   "-a", f"base_url={site_url}", "-a", f"pages={PAGES}"]
        for name, value in base_settings.items():
            command += ["-s", f"{name}={value}"]
        env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
        env.update({
            "PYTHONPATH": os.pathsep.join([str(ROOT), str(workdir)]),
            "CRISP_IDENTIFIER_PROD": secrets.identifier,
            "CRISP_KEY_PROD": secrets.key,
            "JSONRPC_TEST_MARKERS": str(self.markers),
        })
        super().__init__(subprocess.Popen(command, cwd=workdir, env=env, text=True,
                                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT))


@pytest.fixture(scope="module")
def secrets():
    return Secrets()


@pytest.fixture(scope="module")
def crawl(tmp_path_factory, slow_site, secrets):
    run = CrawlRun(tmp_path_factory.mktemp("crawl"), slow_site.url, secrets)
    host, port = run.wait_listening()
    run.base = f"http://{host}:{port}"
    run.site = slow_site
    yield run
    run.kill()


# --- Aides HTTP -----------------------------------------------------------------------


def http(url: str, data: bytes | None = None, headers: dict[str, str] | None = None):
    """(statut, texte) d'une requête, erreurs HTTP comprises."""
    request = urllib.request.Request(url, data=data, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def rpc_raw(url: str, method, params=None, headers=None):
    """Appel JSON-RPC brut : renvoie (statut, objet JSON, texte)."""
    body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params or [], "id": 1})
    status, text = http(url, body.encode(), headers)
    return status, json.loads(text), text


def received(run: CrawlRun) -> int:
    return jsonrpc_client_call(run.base + "/crawler/stats", "get_value",
                               "response_received_count", 0)


# --- Tests sur un crawl réel (dans l'ordre : la fermeture vient en dernier) ------------


def test_stats_are_live(crawl, secrets):
    url = crawl.base + "/crawler/stats"
    first = jsonrpc_client_call(url, "get_stats")
    assert first["start_time"]  # datetime sérialisé par l'encodeur du paquet
    assert first["jsonrpc/port"] == int(crawl.base.rsplit(":", 1)[1])
    time.sleep(1.0)
    second = jsonrpc_client_call(url, "get_stats")
    assert second.get("response_received_count", 0) > first.get("response_received_count", 0)
    assert jsonrpc_client_call(url, "get_value", "jsonrpc/port") == first["jsonrpc/port"]
    # GET (curl) donne les mêmes chiffres.
    status, text = http(url)
    assert status == 200 and json.loads(text)["response_received_count"] >= second["response_received_count"]
    status, text = http(crawl.base + "/")
    assert status == 200 and json.loads(text) == {"resources": ["crawler"]}
    # Le spider envoie bien l'en-tête Basic au serveur (c'est lui qu'il faut protéger).
    assert f"Basic {secrets.basic}" in crawl.site.authorizations


def test_pause_and_unpause(crawl):
    engine = crawl.base + "/crawler/engine"
    assert jsonrpc_client_call(engine, "pause")["paused"] is True
    time.sleep(0.4)  # les téléchargements déjà partis se terminent
    before = received(crawl)
    time.sleep(1.0)
    assert received(crawl) == before, "le crawl avance malgré la pause"
    assert jsonrpc_client_call(engine, "get_status")["paused"] is True
    assert jsonrpc_client_call(engine, "unpause")["paused"] is False
    time.sleep(0.6)
    assert received(crawl) > before


def test_secrets_are_not_reachable(crawl, secrets):
    base = crawl.base
    texts = []

    # Réglages : lectures masquées.
    settings_url = base + "/crawler/settings"
    for method in ("get", "getdict", "getlist", "getint", "getbool"):
        for name in ("CRISP_KEY_PROD", "CRISP_IDENTIFIER_PROD", "DEFAULT_REQUEST_HEADERS"):
            _, reply, text = rpc_raw(settings_url, method, [name])
            texts.append(text)
    assert jsonrpc_client_call(settings_url, "get", "CRISP_KEY_PROD") == "***"
    assert jsonrpc_client_call(settings_url, "get", "CRISP_IDENTIFIER_PROD") == "***"
    assert jsonrpc_client_call(settings_url, "getdict", "DEFAULT_REQUEST_HEADERS") == {"Authorization": "***"}
    assert jsonrpc_client_call(settings_url, "get", "BOT_NAME") == "scrapybot"
    everything = jsonrpc_client_call(settings_url, "copy_to_dict")
    assert everything["CRISP_KEY_PROD"] == "***" and everything["CRISP_IDENTIFIER_PROD"] == "***"
    texts.append(json.dumps(everything))

    # Méthodes hors liste blanche, noms privés ou spéciaux : introuvables.
    for url, method in [(settings_url, "attributes"), (settings_url, "__getitem__"),
                        (settings_url, "_to_dict"), (settings_url, "set"),
                        (settings_url, "frozencopy"), (settings_url, "__init__"),
                        (base + "/crawler/engine", "_slot"), (base + "/crawler/engine", "download"),
                        (base + "/crawler/engine", "close_spider_async"),
                        (base + "/crawler/engine", "__class__"), (base + "/crawler", "__dict__")]:
        with pytest.raises(JsonRpcError) as info:
            jsonrpc_client_call(url, method)
        assert info.value.code == -32601, (url, method)
    _, reply, text = rpc_raw(base + "/crawler/engine", 12)  # nom de méthode non textuel
    assert "error" in reply
    texts.append(text)

    # Parcours : seuls les enfants déclarés existent.
    for path in ["/crawler/settings/attributes", "/crawler/settings/CRISP_KEY_PROD",
                 "/crawler/spider/auth_header", "/crawler/spider/crisp_key",
                 "/crawler/spider/__dict__", "/crawler/spider/crawler", "/crawler/spider/settings",
                 "/crawler/engine/downloader", "/crawler/engine/_slot", "/crawler/engine/slot",
                 "/crawler/engine/scraper", "/crawler/engine/crawler", "/crawler/_private",
                 "/crawler/__class__", "/crawler/%5F%5Fclass%5F%5F", "/crawler/request",
                 "/crawler/engine/downloader/slots", "/nope"]:
        status, text = http(base + path)
        assert status == 404, path
        texts.append(text)
        status, text = http(base + path, b'{"jsonrpc": "2.0", "method": "keys", "id": 1}')
        assert status == 404, path

    # Ce qui est exposé ne contient aucun secret.
    spider = json.loads(http(base + "/crawler/spider")[1])
    assert spider["name"] == "slow" and spider["counters"]["pages_seen"] > 0
    assert json.loads(http(base + "/crawler/spider/name")[1]) == "slow"
    for path in ["/", "/crawler", "/crawler/stats", "/crawler/engine", "/crawler/spider",
                 "/crawler/settings", "/crawler/spider/pages_seen"]:
        status, text = http(base + path)
        assert status == 200, path
        texts.append(text)
    for text in texts:
        secrets.assert_absent(text)


def test_browser_and_foreign_host_requests_are_refused(crawl):
    url = crawl.base + "/crawler/stats"
    assert http(url, headers={"Origin": "https://evil.example"})[0] == 403
    assert http(url, headers={"Sec-Fetch-Site": "cross-site"})[0] == 403
    assert http(url, headers={"Host": "evil.example"})[0] == 403
    assert http(url, headers={"Host": "localhost"})[0] == 200


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="/proc indisponible")
def test_listens_on_loopback_only(crawl):
    import ipaddress

    host, port = crawl.base[len("http://"):].rsplit(":", 1)
    assert host == "127.0.0.1"
    sockets = listening_sockets(crawl.process.pid)
    # Une seule écoute : la nôtre (ni RemoteControl, ni telnet), et en boucle locale.
    assert sockets == [("127.0.0.1", int(port))]
    assert all(ipaddress.ip_address(address).is_loopback for address, _ in sockets)


def test_close_over_rpc_ends_the_crawl(crawl):
    assert crawl.process.poll() is None, "le crawl s'est terminé avant la fermeture demandée"
    reply = jsonrpc_client_call(crawl.base + "/crawler/engine", "close_spider", "closed_by_test")
    assert reply == {"closing": True, "reason": "closed_by_test"}
    assert crawl.wait_exit(30) == 0
    log = crawl.log
    assert "Spider closed (closed_by_test)" in log
    assert "'finish_reason': 'closed_by_test'" in log
    assert (crawl.markers / "spider_closed").read_text() == "closed_by_test"
    assert (crawl.markers / "pipeline_closed").read_text() == "ok"
    assert f"'response_received_count': {PAGES}" not in log  # arrêté avant la fin


# --- Jeton ------------------------------------------------------------------------------


def test_non_loopback_host_without_token_refuses_to_start(tmp_path, slow_site, secrets):
    run = CrawlRun(tmp_path, slow_site.url, secrets, JSONRPC_HOST="0.0.0.0")
    try:
        assert run.wait_exit(30) != 0
    finally:
        run.kill()
    assert "JSONRPC_HOST vaut '0.0.0.0'" in run.log and "JSONRPC_TOKEN" in run.log
    assert "Le crawl n'a pas été démarré." in run.log
    assert not LISTENING_RE.search(run.log)
    assert not (run.markers / "spider_closed").exists()


def test_token_is_required_when_set(tmp_path, slow_site, secrets):
    token = f"jeton-{uuid.uuid4().hex}"
    run = CrawlRun(tmp_path, slow_site.url, secrets, JSONRPC_TOKEN=token)
    try:
        host, port = run.wait_listening()
        url = f"http://{host}:{port}/crawler/stats"
        assert "jeton exigé" in run.log
        assert http(url)[0] == 401
        assert http(url, headers={"Authorization": "Bearer mauvais"})[0] == 401
        assert http(url + "?token=mauvais")[0] == 401
        status, _, _ = rpc_raw(url, "get_stats")
        assert status == 401
        # Le jeton dans le corps (formulaire) ne compte pas.
        assert http(url, f"token={token}".encode())[0] == 401
        assert http(url, headers={"Authorization": f"Bearer {token}"})[0] == 200
        assert jsonrpc_client_call(f"{url}?token={token}", "get_value", "jsonrpc/port") == port
        settings_url = f"http://{host}:{port}/crawler/settings?token={token}"
        assert jsonrpc_client_call(settings_url, "get", "JSONRPC_TOKEN") == "***"
        dump = json.dumps(jsonrpc_client_call(settings_url, "copy_to_dict"))
        assert token not in dump
        secrets.assert_absent(dump)
        engine_url = f"http://{host}:{port}/crawler/engine?token={token}"
        jsonrpc_client_call(engine_url, "close_spider", reason="token_test_done")
        assert run.wait_exit(30) == 0
        assert "Spider closed (token_test_done)" in run.log
    finally:
        run.kill()
