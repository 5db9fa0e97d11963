"""Un vrai Chromium sans écran (paquet Debian ``chromium``), piloté par le protocole DevTools.

Petit client CDP sur les websockets d'aiohttp (déjà une dépendance des tests, pour le bac à
sable) plutôt que playwright : pas de nouvelle dépendance, et pas de couplage entre une
version de playwright et la version du Chromium de Debian (playwright vise ses propres
navigateurs, que ``playwright install`` téléchargerait).

``open_page(path)`` charge un fichier local et rend ce qu'un test veut savoir : erreurs de
la console et exceptions, requêtes émises (toutes, avec leurs échecs), ce que renvoie une
expression JavaScript évaluée dans la page, et une capture d'écran PNG.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

# Noms du navigateur selon les distributions (Debian : chromium ; d'autres : chromium-browser).
NAMES = ("chromium", "chromium-browser")
# Posée par .ci/run, qui installe Chromium : son absence y est alors une erreur, pas un saut.
REQUIRED = "CRISPSCRAPE_REQUIRE_CHROMIUM"
FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--remote-debugging-port=0", "--window-size=820,1400")


def executable() -> str | None:
    """Le chemin de Chromium trouvé dans le PATH, ou None."""
    return next(filter(None, map(shutil.which, NAMES)), None)


def available() -> bool:
    return executable() is not None


@dataclass
class PageVisit:
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    value: object = None
    screenshot: bytes = b""


class _Cdp:
    """Une session DevTools : commandes numérotées, événements gardés dans l'ordre."""

    def __init__(self, socket):
        self.socket = socket
        self.ids = itertools.count(1)
        self.pending: dict[int, asyncio.Future] = {}
        self.events: list[dict] = []
        self.reader = asyncio.create_task(self._read())

    async def _read(self):
        async for message in self.socket:
            data = message.json()
            if "id" in data and data["id"] in self.pending:
                self.pending.pop(data["id"]).set_result(data)
            elif "method" in data:
                self.events.append(data)

    async def send(self, method: str, **params) -> dict:
        number = next(self.ids)
        future = asyncio.get_running_loop().create_future()
        self.pending[number] = future
        await self.socket.send_json({"id": number, "method": method, "params": params})
        reply = await asyncio.wait_for(future, 30)
        if "error" in reply:
            raise RuntimeError(f"{method} : {reply['error']}")
        return reply.get("result", {})

    async def wait_for(self, method: str, timeout: float = 30) -> dict:
        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            for event in self.events:
                if event["method"] == method:
                    return event
            await asyncio.sleep(0.05)
        raise TimeoutError(f"pas d'événement {method} en {timeout} s")


async def _visit(port: int, url: str, expression: str, clip: dict | None) -> PageVisit:
    async with aiohttp.ClientSession() as session:
        async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
            targets = await response.json()
        page = next(target for target in targets if target["type"] == "page")
        async with session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0) as socket:
            cdp = _Cdp(socket)
            for domain in ("Runtime", "Log", "Network", "Page"):
                await cdp.send(f"{domain}.enable")
            await cdp.send("Page.navigate", url=url)
            await cdp.wait_for("Page.loadEventFired")
            await asyncio.sleep(0.3)  # laisser arriver d'éventuelles requêtes tardives
            visit = PageVisit()
            result = await cdp.send("Runtime.evaluate", expression=expression, returnByValue=True)
            visit.value = result["result"].get("value")
            options = {"clip": clip} if clip else {}
            shot = await cdp.send("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                                  **options)
            visit.screenshot = base64.b64decode(shot["data"])
            cdp.reader.cancel()
    for event in cdp.events:
        method, params = event["method"], event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            visit.console_errors.append(str(params.get("args")))
        elif method == "Runtime.exceptionThrown":
            visit.console_errors.append(str(params.get("exceptionDetails")))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            visit.console_errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            visit.requests.append(params["request"]["url"])
        elif method == "Network.loadingFailed":
            visit.failed.append(f"{params.get('requestId')} : {params.get('errorText')}")
    return visit


def open_page(path: Path, expression: str = "null", clip: dict | None = None) -> PageVisit:
    """Ouvre ``path`` dans un Chromium neuf (profil temporaire), puis le ferme. ``clip`` :
    zone de la capture (x, y, width, height, scale), toute la page sinon."""
    profile = tempfile.mkdtemp(prefix="chromium-profil-")
    process = subprocess.Popen([executable() or NAMES[0], *FLAGS, f"--user-data-dir={profile}", "about:blank"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        assert process.stderr is not None
        for line in process.stderr:
            found = re.search(r"DevTools listening on ws://127\.0\.0\.1:(\d+)/", line)
            if found:
                port = int(found.group(1))
                break
        if port is None:
            raise RuntimeError("Chromium n'a pas ouvert le protocole DevTools")
        # Le reste de stderr est lu en arrière-plan : un tuyau plein bloquerait Chromium.
        threading_drain(process)
        return asyncio.run(_visit(port, Path(path).resolve().as_uri(), expression, clip))
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)


def threading_drain(process: subprocess.Popen) -> None:
    import threading

    def drain():
        assert process.stderr is not None
        for _ in process.stderr:
            pass

    threading.Thread(target=drain, daemon=True).start()
