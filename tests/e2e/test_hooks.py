"""Web hooks du direct (issue 22) : ``scrapy crawl live -a hooks=127.0.0.1:PORT`` en vrai.

Un vrai processus ``scrapy crawl live`` écoute ``POST /hooks`` ; le bac à sable (route
/_admin/hooks) lui POSTe chaque événement signé comme Crisp, et le test lui envoie aussi des
requêtes à la main (signature fausse, ``?key=`` bonne ou fausse, corps trop gros ou illisible).
Ce qui compte : 200 seulement une fois journalisé (source « hook »), 401 et 400 sans rien
journaliser, et aucun secret nulle part (sortie, statistiques, fichiers de données). Sans
preuve configurée, le direct refuse de démarrer et rien n'écoute.

Le dernier test fait tourner le récepteur seul, dans le processus du test : site étranger
ignoré, statistiques, refus dits au plus trois fois, port libéré à l'arrêt.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import signal
import socket
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import aiohttp

from crispscrape.hooks import MAX_BODY, HookServer
from tests.e2e.test_live import journal, wait_for
from tests.support.crawling import communicate_or_kill, run_crawl, start_crawl
from tests.support.live import LiveLog, listening_sockets

HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def port_is_closed(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((HOST, port)) != 0


def sign(secret: str, timestamp: str, body: bytes) -> str:
    message = b"[" + timestamp.encode() + b";" + body + b"]"
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def post(url: str, body: bytes, headers: dict | None = None) -> tuple[int, dict]:
    """POST brut : (statut, corps JSON, ou {"text": …} s'il n'en est pas), sans lever sur
    4xx/5xx."""
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            status, raw = error.code, error.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, {"text": raw.decode("utf-8", "replace")}


def hook_body(website_id: str, event: str, data: dict) -> bytes:
    return json.dumps({"website_id": website_id, "event": event, "data": data,
                       "timestamp": int(time.time() * 1000)}).encode()


def files_text(*folders: Path) -> str:
    return "\n".join(path.read_bytes().decode("utf-8", "replace")
                     for folder in folders for path in sorted(folder.rglob("*")) if path.is_file())


def hooked(data_dir: Path) -> list[dict]:
    return [record for record in journal(data_dir) if record["source"] == "hook"]


def test_hooks_are_journaled_only_with_a_valid_proof_and_secrets_never_leak(sandbox, data_dir):
    secret, key = f"secret-{uuid.uuid4().hex}", f"cle-{uuid.uuid4().hex}"
    # Le direct part d'un export existant, comme chez l'utilisateur.
    exported = run_crawl("account", data_dir, sandbox.env())
    assert exported.returncode == 0, exported.log[-3000:]
    port = free_port()
    url = f"http://{HOST}:{port}/hooks"
    stats_file = data_dir.parent / "live-stats.json"
    # Le secret en réglage (-s, donc sur la ligne de commande), la clé dans l'environnement.
    process = start_crawl("live", data_dir, {**sandbox.env(), "CRISP_HOOK_KEY": key},
                          args={"hooks": f"{HOST}:{port}"},
                          settings={"CRISP_HOOK_SECRET": secret}, stats_file=stats_file)
    live = LiveLog(process)
    try:
        wait_for(lambda: f"Web hooks : à l'écoute sur {url}." in live.log
                 or process.poll() is not None, 30, "récepteur à l'écoute")
        assert process.poll() is None, live.log[-3000:]
        assert (HOST, port) in listening_sockets(process.pid), live.log[-3000:]
        wait_for(lambda: sandbox.admin("/_admin/rtm")["clients"] == 1, 30, "connexion RTM")

        # 1. Le bac à sable POSTe chaque événement, signé : journalisé avant la réponse 200.
        target = sandbox.admin("/_admin/hooks", "POST", {"url": url, "secret": secret})
        assert (target["signed"], target["keyed"]) == (True, False)
        session_id = sandbox.admin("/_admin/truth/conversations")[0]["session_id"]
        [added] = sandbox.admin(f"/_admin/conversations/{session_id}/messages", "POST",
                                {"count": 1})
        state = sandbox.admin("/_admin/hooks")
        assert (state["sent"], state["failures"], state["statuses"]) == (1, 0, {"200": 1})
        assert [(r["event"], r["data"]["session_id"], r["data"]["fingerprint"])
                for r in hooked(data_dir)] == [("message:send", session_id, added["fingerprint"])]
        wait_for(lambda: [r for r in journal(data_dir) if r["source"] == "rtm"], 5,
                 "le même événement par le RTM")
        sandbox.admin("/_admin/hooks", "POST", {"url": None})
        before = len(journal(data_dir))

        # 2. Signature fausse, absente, ou horodatage qui ne va pas avec : 401, rien écrit.
        body = hook_body(sandbox.website_id, "session:set_state",
                         {"session_id": session_id, "state": "resolved"})
        stamp = str(int(time.time() * 1000))
        for headers in ({"X-Crisp-Request-Timestamp": stamp, "X-Crisp-Signature": "0" * 64},
                        {"X-Crisp-Request-Timestamp": stamp},
                        {"X-Crisp-Request-Timestamp": stamp + "1",
                         "X-Crisp-Signature": sign(secret, stamp, body)},
                        {"X-Crisp-Signature": sign(secret, stamp, body)}):
            assert post(url, body, headers)[0] == 401
        assert post(f"{url}?key={key}x", body)[0] == 401
        assert post(f"{url}?key=", body)[0] == 401
        assert len(journal(data_dir)) == before

        # 3. La bonne clé (hook de site, sans signature) : 200, journalisé.
        assert post(f"{url}?key={key}", body) == (200, {"status": "journaled"})
        assert post(url, body, {"X-Crisp-Request-Timestamp": stamp,
                                "X-Crisp-Signature": sign(secret, stamp, body)}) == (
            200, {"status": "journaled"})
        records = journal(data_dir)
        assert len(records) == before + 2
        assert all((r["source"], r["event"]) == ("hook", "session:set_state")
                   for r in records[before:])
        assert records[-1]["data"] == {"session_id": session_id, "state": "resolved"}
        # Un événement inconnu : acquitté (Crisp ne le renverra pas), pas journalisé.
        assert post(f"{url}?key={key}", hook_body(sandbox.website_id, "bucket:url:upload", {})) \
            == (200, {"status": "dropped"})

        # 4. Corps trop gros ou illisible : 400, même avec une preuve valable.
        big = json.dumps({"event": "message:send", "data": {"x": "a" * MAX_BODY}}).encode()
        assert post(f"{url}?key={key}", big)[0] == 400
        assert post(f"{url}?key={key}", b"pas du json") == (400, {"error": "corps JSON illisible"})
        assert post(f"{url}?key={key}", b'{"event": "message:send"}')[0] == 400
        assert post(f"{url}?key={key}", b"[]")[0] == 400
        assert len(journal(data_dir)) == before + 2
        # Seul POST /hooks existe.
        assert post(f"http://{HOST}:{port}/autre?key={key}", body)[0] == 404
    finally:
        process.send_signal(signal.SIGTERM)
        code = live.wait_exit(60)
    out = live.log
    assert code == 0, out[-3000:]
    stats = json.loads(stats_file.read_text())
    assert stats["finish_reason"] == "live_stopped"
    assert len(hooked(data_dir)) == 3
    assert "Web hooks : requête de 127.0.0.1 refusée (401 : signature ou clé absente ou fausse)." \
        in out
    # Aucun secret : ni dans la sortie (journal de Scrapy, réglages modifiés), ni dans les
    # statistiques, ni dans aucun fichier du répertoire de données.
    for value in (secret, key):
        assert value not in out
        assert value not in stats_file.read_text()
        assert value not in files_text(data_dir)
    assert port_is_closed(port)


def test_without_any_proof_the_live_intake_refuses_to_start_and_nothing_listens(sandbox,
                                                                                 data_dir):
    port = free_port()
    stats_file = data_dir.parent / "live-stats.json"
    process = start_crawl("live", data_dir, sandbox.env(), args={"hooks": f"{HOST}:{port}"},
                          stats_file=stats_file)
    live = LiveLog(process)
    code = live.wait_exit(60)
    out = live.log
    assert code == 1, out[-3000:]
    assert json.loads(stats_file.read_text())["finish_reason"] == "config_error"
    assert (f"Web hooks (-a hooks={HOST}:{port}) : ni CRISP_HOOK_SECRET ni CRISP_HOOK_KEY n'est "
            "défini ; le récepteur refuse d'écouter sans preuve") in out
    assert "à l'écoute" not in out
    assert port_is_closed(port)
    assert sandbox.admin("/_admin/stats")["calls"] == 0
    assert journal(data_dir) == []


def test_an_unusable_address_is_refused_before_any_call(sandbox, data_dir):
    process = start_crawl("live", data_dir, {**sandbox.env(), "CRISP_HOOK_KEY": "cle-assez-longue"},
                          args={"hooks": f"{HOST}:70000"})
    out, _ = communicate_or_kill(process, 60, "adresse refusée")
    assert process.returncode == 1, out[-3000:]
    assert f"-a hooks='{HOST}:70000' invalide : HÔTE:PORT est attendu" in out
    assert sandbox.admin("/_admin/stats")["calls"] == 0


def test_a_port_already_taken_stops_the_live_intake_in_french(sandbox, data_dir):
    exported = run_crawl("conversations", data_dir, sandbox.env())
    assert exported.returncode == 0, exported.log[-3000:]
    with socket.socket() as taken:
        taken.bind((HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        stats_file = data_dir.parent / "live-stats.json"
        process = start_crawl("live", data_dir, {**sandbox.env(), "CRISP_HOOK_KEY": "cle-longue"},
                              args={"hooks": f"{HOST}:{port}"}, stats_file=stats_file)
        out, _ = communicate_or_kill(process, 60, "port pris")
    assert process.returncode == 1, out[-3000:]
    assert json.loads(stats_file.read_text())["finish_reason"] == "config_error"
    assert f"Web hooks impossibles à recevoir sur {HOST}:{port} (port déjà pris ?)" in out


class Stats:
    def __init__(self) -> None:
        self.values: dict[str, int] = {}

    def inc_value(self, name: str) -> None:
        self.values[name] = self.values.get(name, 0) + 1


class Lines(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_receiver_alone_foreign_website_stats_quiet_refusals_and_port_freed():
    from scrapy.settings import Settings

    key = f"cle-{uuid.uuid4().hex}"
    port = free_port()
    outcomes = iter(["journaled", "dropped", "failed"])
    events: list[tuple[str, dict]] = []

    def on_event(event, data):
        events.append((event, data))
        return next(outcomes)

    logger = logging.getLogger(f"test.hooks.{uuid.uuid4().hex}")
    lines = Lines()
    logger.addHandler(lines)
    logger.setLevel(logging.INFO)
    stats = Stats()
    server = HookServer.from_settings(f"{HOST}:{port}", Settings({"CRISP_HOOK_KEY": key}),
                                      on_event, logger, website_id="site-a", stats=stats,
                                      environ={})

    async def scenario():
        assert await server.start()
        url = f"http://{HOST}:{port}/hooks?key={key}"
        async with aiohttp.ClientSession() as client:
            async def send(website, wrong=False):
                body = hook_body(website, "message:send", {"n": 1})
                async with client.post(url + ("x" if wrong else ""), data=body) as reply:
                    return reply.status

            assert await send("site-b") == 200  # autre site : acquitté, jeté
            assert [await send("site-a") for _ in range(3)] == [200, 200, 500]
            assert [await send("site-a", wrong=True) for _ in range(5)] == [401] * 5
        # Le port est pris tant que le récepteur vit ; un second ne peut pas s'y mettre.
        other = HookServer.from_settings(f"{HOST}:{port}", Settings({"CRISP_HOOK_KEY": key}),
                                         on_event, logger, environ={})
        assert not await other.start()
        await server.stop()
        assert port_is_closed(port)

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert [event for event, _ in events] == ["message:send"] * 3
    assert stats.values == {"hooks/received": 9, "hooks/foreign_website": 1,
                            "hooks/journaled": 1, "hooks/failed": 1, "hooks/refused_auth": 5}
    refusals = [line for line in lines.lines if "refusée" in line]
    assert len(refusals) == 3 and "ne sont plus dits (statistique hooks/refused_auth)" in refusals[2]
    assert any(f"Web hooks : impossible d'écouter sur {HOST}:{port}" in line for line in lines.lines)
    assert lines.lines[0] == f"Web hooks : à l'écoute sur http://{HOST}:{port}/hooks."
    assert all(key not in line for line in lines.lines)
