"""Surveillance JSON-RPC d'un vrai ``scrapy crawl messages`` de crispscrape.

Le crawl tourne dans un sous-processus, avec les réglages du projet, contre un bac à sable
lent (150 ms par appel, 2 requêtes à la fois) pour durer une dizaine de secondes. Les
tests l'interrogent pendant ce temps en HTTP, avec le client de scrapy-jsonrpc, dans
l'ordre du fichier : progression, pause et reprise, secrets, écoute, puis fermeture par
JSON-RPC (l'état doit être sauvegardé et une relance doit tout compléter).
"""

from __future__ import annotations

import ipaddress
import json
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

import crispscrape.jsonrpc  # noqa: F401 - rend scrapy_jsonrpc importable sous Scrapy 2
from scrapy_jsonrpc.jsonrpc import JsonRpcError, jsonrpc_client_call
from tests.support.crawling import read_jsonl, run_crawl, start_crawl
from tests.support.live import LiveLog, Secrets, listening_sockets
from tests.support.messages_support import assert_matches_truth, messages_file, write_conversations
from tests.support.sandbox_process import start_sandbox

CONVERSATIONS = 100
LATENCY_MS = 150
LONG_MESSAGES = 2000
SECRET_SETTING_NAMES = ("CRISP_KEY_PROD", "CRISP_IDENTIFIER_PROD", "CRISP_TOKEN_KEY",
                        "CRISP_TOKEN_ID", "JSONRPC_TOKEN")
# Réglages lus aussi, sans être secrets par leur nom : leur valeur ne doit rien trahir.
OTHER_SETTING_NAMES = ("DEFAULT_REQUEST_HEADERS", "ID_SITE_CRISP", "CRISP_API_URL")
SETTINGS_READERS = ("get", "getbool", "getint", "getfloat", "getlist", "getdict")


@pytest.fixture(scope="module")
def secrets():
    return Secrets()


@pytest.fixture(scope="module")
def slow_sandbox(secrets):
    server = start_sandbox(seed=3, conversations=CONVERSATIONS, latency_ms=LATENCY_MS,
                           identifier=secrets.identifier, key=secrets.key)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("jsonrpc-crawl") / "data"


@pytest.fixture(scope="module")
def long_conversation(slow_sandbox):
    """Une conversation allongée à LONG_MESSAGES messages : ses lots se suivent un par un
    (150 ms chacun, plus de 7 s en tout), elle est donc forcément en cours à la fermeture."""
    session_id = slow_sandbox.admin("/_admin/truth/conversations")[0]["session_id"]
    slow_sandbox.admin(f"/_admin/conversations/{session_id}/messages", method="POST",
                       json={"count": LONG_MESSAGES})
    return session_id


@pytest.fixture(scope="module")
def conversations(slow_sandbox, data_dir, long_conversation):
    data_dir.mkdir()
    written = write_conversations(slow_sandbox, data_dir)
    # Activité la plus récente : elle est en tête de liste, donc commencée la première.
    assert written[0]["session_id"] == long_conversation
    return written


@pytest.fixture(scope="module")
def crawl(slow_sandbox, data_dir, conversations, secrets):
    # L'identifiant vient de l'environnement ; la clé est passée en réglage (-s), que notre
    # commande crawl retire des réglages : les deux chemins sont exercés.
    env = {name: value for name, value in slow_sandbox.env().items() if name != "CRISP_KEY_PROD"}
    process = start_crawl("messages", data_dir, env, args={"nb": CONVERSATIONS * 2}, settings={
        "JSONRPC_ENABLED": "1",
        "JSONRPC_PORT": "0",
        "CONCURRENT_REQUESTS": "2",
        "CRISP_KEY_PROD": secrets.key,
    })
    run = LiveLog(process)
    host, port = run.wait_listening()
    run.base = f"http://{host}:{port}"
    yield run
    run.kill()


# --- Aides ------------------------------------------------------------------------------------


def http(url: str, data: bytes | None = None) -> tuple[int, str]:
    """(statut, texte) d'une requête, erreurs HTTP comprises."""
    request = urllib.request.Request(url, data=data)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode("utf-8")


def rpc_text(url: str, method: str, params: list) -> str:
    """Réponse brute d'un appel JSON-RPC (pour y chercher des secrets, erreurs comprises)."""
    body = json.dumps({"jsonrpc": "2.0", "method": method, "params": params, "id": 1})
    return http(url, body.encode())[1]


def requests_sent(run: LiveLog) -> int:
    return jsonrpc_client_call(run.base + "/crawler/stats", "get_value", "crisp_api/requests", 0)


def wait_for_rise(run: LiveLog, value: int, timeout: float = 5) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = requests_sent(run)
        if current > value:
            return current
        time.sleep(0.1)
    pytest.fail(f"crisp_api/requests reste à {value} après {timeout} s")




# --- Pendant le crawl ------------------------------------------------------------------------


def test_stats_rise_while_crawling(crawl):
    stats_url = crawl.base + "/crawler/stats"
    port = int(crawl.base.rsplit(":", 1)[1])
    assert jsonrpc_client_call(stats_url, "get_value", "jsonrpc/port") == port
    status = jsonrpc_client_call(crawl.base + "/crawler/engine", "get_status")
    assert status == {"running": True, "paused": False, "spider": "messages"}
    first = requests_sent(crawl)
    wait_for_rise(crawl, first)
    new_messages = jsonrpc_client_call(stats_url, "get_value", "messages/new", 0)
    deadline = time.monotonic() + 5
    while jsonrpc_client_call(stats_url, "get_value", "messages/new", 0) <= new_messages:
        assert time.monotonic() < deadline, "messages/new n'augmente pas"
        time.sleep(0.1)


def test_pause_stops_progress_and_unpause_resumes(crawl):
    engine = crawl.base + "/crawler/engine"
    assert jsonrpc_client_call(engine, "pause")["paused"] is True
    # Les téléchargements déjà partis (2 au plus, 150 ms chacun) se terminent.
    time.sleep(0.8)
    paused_at = requests_sent(crawl)
    time.sleep(1.5)
    assert requests_sent(crawl) == paused_at, "des appels partent malgré la pause"
    assert jsonrpc_client_call(engine, "get_status")["paused"] is True
    assert crawl.process.poll() is None
    assert jsonrpc_client_call(engine, "unpause")["paused"] is False
    wait_for_rise(crawl, paused_at, timeout=3)


def test_secrets_are_not_reachable(crawl, secrets):
    base = crawl.base
    settings_url = base + "/crawler/settings"
    texts = {}
    for name in SECRET_SETTING_NAMES:
        for method in SETTINGS_READERS:
            texts[f"settings.{method}({name})"] = rpc_text(settings_url, method, [name])
        assert jsonrpc_client_call(settings_url, "get", name) == "***"
    for name in OTHER_SETTING_NAMES:
        for method in SETTINGS_READERS:
            texts[f"settings.{method}({name})"] = rpc_text(settings_url, method, [name])
    everything = jsonrpc_client_call(settings_url, "copy_to_dict")
    assert everything["BOT_NAME"] == "crispscrape"
    texts["settings.copy_to_dict"] = json.dumps(everything)

    # Le spider : son nom, rien d'autre (ni config, ni archive, ni curseur, ni réglages).
    assert json.loads(http(base + "/crawler/spider")[1]) == {"name": "messages", "counters": {}}
    for path in ("/crawler/spider/config", "/crawler/spider/settings", "/crawler/spider/crawler",
                 "/crawler/spider/archive", "/crawler/spider/cursor", "/crawler/spider/__dict__",
                 "/crawler/engine/downloader", "/crawler/engine/slot", "/crawler/settings/attributes",
                 "/crawler/settings/CRISP_KEY_PROD", "/crawler/stats/_stats"):
        status, text = http(base + path)
        assert status == 404, path
        texts[path] = text
    for url, method in ((base + "/crawler/spider", "__getattribute__"),
                        (base + "/crawler/spider", "config"), (settings_url, "attributes"),
                        (settings_url, "__getitem__"), (base + "/crawler/engine", "download")):
        with pytest.raises(JsonRpcError) as info:
            jsonrpc_client_call(url, method, "CRISP_KEY_PROD")
        assert info.value.code == -32601, (url, method)

    # Tout ce qui est exposé, en GET comme en JSON-RPC.
    for path in ("/", "/crawler", "/crawler/stats", "/crawler/engine", "/crawler/spider",
                 "/crawler/spider/name", "/crawler/settings"):
        status, text = http(base + path)
        assert status == 200, path
        texts[path] = text
    texts["stats.get_stats"] = json.dumps(jsonrpc_client_call(base + "/crawler/stats", "get_stats"))
    for where, text in texts.items():
        secrets.assert_absent(text, where)


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="/proc indisponible")
def test_only_loopback_listens(crawl):
    host, port = crawl.base[len("http://"):].rsplit(":", 1)
    sockets = listening_sockets(crawl.process.pid)
    # Une seule écoute, la nôtre, en boucle locale (ni RemoteControl, ni console telnet).
    assert sockets == [("127.0.0.1", int(port))]
    assert all(ipaddress.ip_address(address).is_loopback for address, _ in sockets)


# --- Fermeture par JSON-RPC, puis relance --------------------------------------------------


def test_close_spider_saves_state_and_rerun_completes(crawl, slow_sandbox, data_dir,
                                                     conversations, long_conversation, secrets):
    # Une conversation courte finie sur le disque avant la fermeture : quand ce test est le
    # premier du module dans son processus xdist, le crawl vient à peine de commencer, et
    # rien ne serait encore complet (la conversation longue occupe l'autre requête).
    first_short = conversations[1]["session_id"]
    expected = len(slow_sandbox.admin(f"/_admin/truth/messages/{first_short}"))
    deadline = time.monotonic() + 60
    while not (messages_file(data_dir, first_short).is_file()
               and len(read_jsonl(messages_file(data_dir, first_short))) == expected):
        assert time.monotonic() < deadline, "aucune conversation finie en 60 s"
        assert crawl.process.poll() is None, crawl.log[-3000:]
        time.sleep(0.05)
    assert crawl.process.poll() is None, "le crawl s'est terminé avant la fermeture demandée"
    # « shutdown » : la raison d'un Ctrl-C, donc un arrêt propre à reprendre (code 2).
    reply = jsonrpc_client_call(crawl.base + "/crawler/engine", "close_spider", "shutdown")
    assert reply == {"closing": True, "reason": "shutdown"}
    assert crawl.wait_exit(30) == 2, crawl.log[-3000:]
    log = crawl.log
    assert "Fermeture du spider demandée par JSON-RPC (raison : shutdown)" in log
    assert "Spider closed (shutdown)" in log and "'finish_reason': 'shutdown'" in log
    assert "Récapitulatif messages :" in log
    assert ("Fin : arrêt demandé (Ctrl-C / SIGTERM), état sauvegardé : arrêt prévu, reprise au "
            "prochain lancement.") in log
    secrets.assert_absent(log, "le journal du crawl")

    # L'état : le curseur passe exactement les conversations réglées, dans l'ordre du fichier.
    ids = [conversation["session_id"] for conversation in conversations]
    state_path = data_dir / "conversations" / "messages" / "messages.jsonl.state.json"
    state = json.loads(state_path.read_text())
    incomplete = state["incomplete"]
    assert isinstance(state["next_index"], int) and isinstance(incomplete, dict)
    assert set(incomplete) <= set(ids)

    def settled(session_id: str) -> bool:
        if session_id in incomplete:
            return True
        path = messages_file(data_dir, session_id)
        return path.is_file() and len(read_jsonl(path)) == len(
            slow_sandbox.admin(f"/_admin/truth/messages/{session_id}"))

    settled_prefix = next((index for index, session_id in enumerate(ids)
                           if not settled(session_id)), len(ids))
    assert 0 < settled_prefix < len(ids), "le crawl aurait dû être coupé en cours de route"
    assert state["next_index"] == settled_prefix
    assert state["next_session_id"] == ids[settled_prefix]

    # Chaque fichier écrit est juste : complet et égal à la vérité, ou partiel mais sans trou
    # au-dessus de son plus ancien message (celui que l'état retient pour la reprise).
    written = {path.stem for path in (data_dir / "conversations" / "messages").glob("*.jsonl")}
    assert written <= set(ids)
    complete = sorted(written - set(incomplete))
    assert complete
    assert_matches_truth(slow_sandbox, data_dir, complete)
    # La conversation longue, coupée en pleine pagination, est notée incomplète.
    assert long_conversation in incomplete
    assert messages_file(data_dir, long_conversation).is_file()
    for session_id in incomplete:
        path = messages_file(data_dir, session_id)
        if not path.is_file():
            assert incomplete[session_id] is None, session_id
            continue
        got = read_jsonl(path)
        truth = slow_sandbox.admin(f"/_admin/truth/messages/{session_id}")
        assert got and len(got) < len(truth), session_id
        oldest = min(message["timestamp"] for message in got)
        assert incomplete[session_id] == oldest
        assert all(message in truth for message in got), session_id
        newer = [m for m in truth if m["timestamp"] > oldest]
        assert all(message in got for message in newer), f"trou dans {session_id}"
        keys = [(m["timestamp"], m["fingerprint"]) for m in got]
        assert keys == sorted(keys, reverse=True), f"ordre faux dans {session_id}"

    # La relance (sans latence) complète tout, à l'identique de la vérité.
    slow_sandbox.admin("/_admin/faults", method="POST", json={"latency_ms": 0})
    result = run_crawl("messages", data_dir, slow_sandbox.env(), args={"nb": CONVERSATIONS * 2})
    assert result.returncode == 0, result.log[-3000:]
    assert result.reason == "finished"
    assert_matches_truth(slow_sandbox, data_dir, ids)
    assert json.loads(state_path.read_text())["incomplete"] == {}
    secrets.assert_absent(result.log, "le journal de la relance")
