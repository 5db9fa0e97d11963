"""Lance le bac à sable Crisp dans un sous-processus (tests, bancs d'essai, make demo).

    with start_sandbox(conversations=20, seed=3) as sandbox:
        os.environ.update(sandbox.env())
        sandbox.admin("/_admin/faults", method="POST", json={"error_rate": 0.5})

Les options sont celles de la ligne de commande (« rate_limit » -> --rate-limit) ; par exemple
``start_sandbox(tier="website")`` attend un Website Token (X-Crisp-Tier: website) au lieu
d'un jeton « plugin ». auth_headers() et env() suivent le niveau du bac à sable lancé.
Le serveur écoute sur un port libre, annoncé par --port-file.

Outil de développement et de test : il suppose une copie des sources du dépôt, où
crispsandbox/ est à côté de crispscrape/ et de scrapy.cfg (voir repository_root).
"""

from __future__ import annotations

import base64
import json as jsonlib
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

# Répertoire qui contient le paquet crispsandbox : ce qu'il faut à PYTHONPATH pour « -m crispsandbox ».
PACKAGE_PARENT = Path(__file__).resolve().parent.parent
# Ce qui, à côté de crispsandbox/, signe une copie des sources du dépôt.
CHECKOUT_MARKERS = ("scrapy.cfg", "crispscrape/__init__.py")
START_TIMEOUT = 20.0


class SourceCheckoutError(RuntimeError):
    """crispsandbox ne tourne pas depuis une copie des sources du dépôt."""


def repository_root() -> Path:
    """Racine de la copie des sources : le répertoire qui contient crispsandbox/.

    Le bac à sable, la démonstration et les tests ne s'installent pas : ils tournent depuis
    le dépôt, à côté de crispscrape/ et de scrapy.cfg (les crawls partent de là). Sinon,
    SourceCheckoutError le dit, au lieu d'un échec obscur plus loin.
    """
    missing = [name for name in CHECKOUT_MARKERS if not (PACKAGE_PARENT / name).is_file()]
    if missing:
        raise SourceCheckoutError(
            f"crispsandbox est un outil de développement : il doit tourner depuis une copie des "
            f"sources du dépôt crispscrape, or {PACKAGE_PARENT} n'en est pas une (il y manque : "
            f"{', '.join(missing)}). Lancez-le depuis le dépôt (make demo, make test)."
        )
    return PACKAGE_PARENT


class SandboxProcess:
    """Un bac à sable en sous-processus ; s'utilise aussi comme gestionnaire de contexte."""

    def __init__(self, **options: object) -> None:
        self.options = options
        self.process: subprocess.Popen | None = None
        self.base = ""  # http://127.0.0.1:PORT
        self.url = ""  # base de l'API, se termine par /v1
        self.identifier = self.key = self.website_id = ""
        self.websites: list[str] = []
        # Niveau du jeton attendu (X-Crisp-Tier), relu dans /_admin/config au démarrage.
        self.tier = str(options.get("tier") or "plugin")
        self._workdir = tempfile.TemporaryDirectory(prefix="crisp-sandbox-")

    def _command(self, port_file: Path) -> list[str]:
        command = [sys.executable, "-m", "crispsandbox", "--port", "0", "--port-file", str(port_file)]
        for name, value in self.options.items():
            if value is not None:
                command += [f"--{name.replace('_', '-')}", str(value)]
        return command

    def start(self) -> "SandboxProcess":
        port_file = Path(self._workdir.name) / "port"
        root = repository_root()
        environment = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")]))}
        folder = Path(self._workdir.name)
        with open(folder / "stdout.log", "wb") as stdout, open(folder / "stderr.log", "wb") as stderr:
            self.process = subprocess.Popen(self._command(port_file), cwd=root, env=environment, stdout=stdout, stderr=stderr)
        deadline = time.monotonic() + START_TIMEOUT
        while not port_file.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                logs = self.logs()
                self.stop()
                raise RuntimeError(f"le bac à sable n'a pas démarré : {logs}")
            time.sleep(0.02)
        self.base = f"http://127.0.0.1:{int(port_file.read_text().strip())}"
        self._configure(self.admin("/_admin/config"))
        return self

    def _configure(self, config: dict) -> None:
        """Adresse de l'API et identifiants, d'après /_admin/config (redéfini par les doublures)."""
        self.url = f"{self.base}/v1"
        self.identifier, self.key, self.website_id = config["identifier"], config["key"], config["website_id"]
        # Tous les sites servis (--websites N), le premier étant website_id.
        self.websites = list(config.get("websites", [self.website_id]))
        self.tier = config.get("tier", "plugin")

    def logs(self) -> str:
        """Sorties du processus (pour les messages d'échec)."""
        folder = Path(self._workdir.name)
        return "".join(
            (folder / name).read_text(encoding="utf-8", errors="replace")
            for name in ("stdout.log", "stderr.log") if (folder / name).exists()
        )

    def env(self) -> dict[str, str]:
        """Variables d'environnement attendues par l'exportateur (CRISP_TOKEN_TIER pour un
        bac à sable « website » seulement : l'exportateur suppose « plugin » sans elle)."""
        variables = {
            "CRISP_IDENTIFIER_PROD": self.identifier,
            "CRISP_KEY_PROD": self.key,
            "ID_SITE_CRISP": self.website_id,
            "CRISP_API_URL": self.url,
        }
        if self.tier != "plugin":
            variables["CRISP_TOKEN_TIER"] = self.tier
        return variables

    def auth_headers(self) -> dict[str, str]:
        """En-têtes d'un appel direct à l'API, au niveau de jeton du bac à sable."""
        token = base64.b64encode(f"{self.identifier}:{self.key}".encode()).decode()
        return {"Authorization": f"Basic {token}", "X-Crisp-Tier": self.tier, "Content-Type": "application/json"}

    def admin(self, path: str, method: str = "GET", json: object = None) -> object:
        """Appel à l'API d'administration ; renvoie le JSON décodé, HTTPError si échec."""
        data = None if json is None else jsonlib.dumps(json).encode("utf-8")
        if data is None and method == "POST":
            data = b"{}"
        request = urllib.request.Request(self.base + path, data=data, method=method, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            return jsonlib.loads(response.read().decode("utf-8"))

    def api(self, path: str, params: dict | None = None, headers: dict | None = None, timeout: float = 30) -> tuple[int, dict, bytes]:
        """GET sur l'API /v1 (chemin relatif à .url) : (statut, en-têtes, corps brut), sans lever sur 4xx/5xx."""
        url = self.url + path + ("?" + urllib.parse.urlencode(params) if params else "")
        request = urllib.request.Request(url, headers=self.auth_headers() if headers is None else headers)
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, dict(error.headers), error.read()

    def stop(self) -> None:
        """SIGTERM, puis SIGKILL si le processus traîne."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._workdir.cleanup()

    def __enter__(self) -> "SandboxProcess":
        return self if self.process else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def start_sandbox(**options: object) -> SandboxProcess:
    """Démarre un bac à sable et attend qu'il réponde."""
    return SandboxProcess(**options).start()
