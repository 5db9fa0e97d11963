"""Aide aux tests : un vrai scrapyd sur 127.0.0.1 et un vrai déploiement avec scrapyd-deploy.

    copy = project_copy(tmp_path / "projet")
    with ScrapydProcess(tmp_path / "scrapyd", env={...}) as scrapyd:
        deploy(copy, scrapyd.url, version="1")
        job = scrapyd.schedule("messages", nb="100")
        entry = scrapyd.wait_finished([job])[job]
        print(scrapyd.job_log(entry))

scrapyd tourne dans un répertoire temporaire (configuration, œufs, journaux, bases) et
dans un groupe de processus à lui : l'arrêter arrête aussi les crawls qu'il a lancés.
Le déploiement part toujours d'une COPIE du projet : ``setup.py bdist_egg`` laisse build/
et *.egg-info derrière lui, jamais dans l'arbre de travail.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Les commandes installées dans l'environnement virtuel qui exécute les tests.
VENV_BIN = Path(sys.executable).parent
PROJECT = "crispscrape"
START_TIMEOUT = 20.0
# Restes de construction ou de scrapyd qui ne doivent jamais apparaître à la racine du dépôt.
ARTEFACT_PATTERNS = ("build", "dist", "*.egg-info", "*.egg", "eggs", "logs", "dbs", "items",
                     "twistd.pid")

SCRAPYD_CONF = """\
[scrapyd]
bind_address = 127.0.0.1
http_port = {port}
eggs_dir = {eggs_dir}
logs_dir = {logs_dir}
items_dir = {items_dir}
dbs_dir = {dbs_dir}
max_proc = {max_proc}
poll_interval = {poll_interval}
jobs_to_keep = 20
finished_to_keep = 100
"""


def free_port() -> int:
    """Un port TCP libre sur 127.0.0.1 (scrapyd n'accepte pas le port 0)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def clean_environment(extra: dict[str, str]) -> dict[str, str]:
    """Environnement du processus de test, sans identifiants Crisp ni chemin vers le dépôt.

    Sans PYTHONPATH, le paquet crispscrape n'est importable par scrapyd que depuis l'œuf
    déployé : un crawl réussi prouve que c'est bien l'œuf qui a tourné.
    """
    environment = {name: value for name, value in os.environ.items()
                   if not name.startswith(("CRISP_", "ID_SITE_CRISP", "SCRAPY_", "SCRAPYD_"))
                   and name != "PYTHONPATH"}
    environment.update(extra)
    environment["PYTHONUNBUFFERED"] = "1"
    return environment


def project_files(root: Path = ROOT) -> list[str]:
    """Fichiers du projet tels qu'ils seraient versionnés : suivis, ou nouveaux et non ignorés."""
    listing = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=root, check=True, capture_output=True,
    ).stdout.decode("utf-8")
    return sorted({name for name in listing.split("\0") if name and (root / name).is_file()})


def project_copy(destination: Path, root: Path = ROOT) -> Path:
    """Copie le projet (fichiers de ``project_files``) dans ``destination``."""
    for name in project_files(root):
        target = destination / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(root / name, target)
    return destination


def build_artefacts(root: Path = ROOT) -> set[str]:
    """Restes de construction présents à la racine (build/, *.egg-info, eggs/…)."""
    return {path.name for pattern in ARTEFACT_PATTERNS for path in root.glob(pattern)}


def deploy(project_dir: Path, scrapyd_url: str, version: str,
           target: str = "test") -> subprocess.CompletedProcess:
    """Déploie la copie du projet avec la commande ``scrapyd-deploy`` de l'environnement.

    La cible ``[deploy:<target>]`` ajoutée à la copie de scrapy.cfg hérite de la section
    ``[deploy]`` versionnée (dont ``project``) et n'en remplace que l'URL.
    """
    config = project_dir / "scrapy.cfg"
    with open(config, "a", encoding="utf-8") as handle:
        handle.write(f"\n[deploy:{target}]\nurl = {scrapyd_url}\n")
    environment = clean_environment({})
    # Aucun ~/.netrc ni ~/.scrapy.cfg de la machine ne doit s'en mêler.
    environment["HOME"] = str(project_dir)
    environment.pop("XDG_CONFIG_HOME", None)
    return subprocess.run(
        [str(VENV_BIN / "scrapyd-deploy"), target, "--version", version],
        cwd=project_dir, env=environment, capture_output=True, text=True, timeout=120,
    )


class ScrapydProcess:
    """Un scrapyd réel, configuré dans ``workdir`` ; s'utilise comme gestionnaire de contexte."""

    def __init__(self, workdir: Path, env: dict[str, str], max_proc: int = 2,
                 poll_interval: float = 0.2) -> None:
        self.workdir = Path(workdir)
        self.env = clean_environment(env)
        self.max_proc = max_proc
        self.poll_interval = poll_interval
        self.process: subprocess.Popen | None = None
        self.url = ""
        self.logs_dir = self.workdir / "logs"
        self.items_dir = self.workdir / "items"
        self.eggs_dir = self.workdir / "eggs"
        self.dbs_dir = self.workdir / "dbs"
        self.log_path = self.workdir / "scrapyd.log"
        # Toutes les réponses HTTP reçues de scrapyd (pour y chercher des secrets).
        self.answers: list[str] = []

    # --- Démarrage et arrêt -----------------------------------------------------------
    def start(self, attempts: int = 3) -> ScrapydProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        for attempt in range(attempts):
            port = free_port()
            self._write_config(port)
            self.process = subprocess.Popen(
                [sys.executable, "-m", "scrapyd", "--pidfile=", "--logfile", str(self.log_path)],
                cwd=self.workdir, env=self.env, stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT, start_new_session=True,
            )
            self.url = f"http://127.0.0.1:{port}"
            if self._wait_ready():
                return self
            log = self.log
            self.stop()
            if "Address already in use" not in log or attempt == attempts - 1:
                raise RuntimeError(f"scrapyd n'a pas démarré :\n{log[-3000:]}")
        raise AssertionError("inaccessible")

    def _write_config(self, port: int) -> None:
        (self.workdir / "scrapyd.conf").write_text(SCRAPYD_CONF.format(
            port=port, eggs_dir=self.eggs_dir, logs_dir=self.logs_dir, items_dir=self.items_dir,
            dbs_dir=self.dbs_dir, max_proc=self.max_proc, poll_interval=self.poll_interval,
        ), encoding="utf-8")

    def _wait_ready(self) -> bool:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                if self.get("daemonstatus.json")["status"] == "ok":
                    return True
            except (OSError, ValueError):
                pass
            time.sleep(0.1)
        return False

    def stop(self) -> None:
        """SIGTERM au groupe de processus (scrapyd et ses crawls), puis SIGKILL s'il traîne."""
        if self.process is None:
            return
        for sig, wait in ((signal.SIGTERM, 10), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        # Les crawls lancés par scrapyd partagent son groupe : aucun ne doit survivre.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass

    def __enter__(self) -> ScrapydProcess:
        return self if self.process else self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def log(self) -> str:
        """Journal de scrapyd lui-même (lancements, fins de processus, codes de sortie)."""
        if not self.log_path.exists():
            return ""
        return self.log_path.read_text(encoding="utf-8", errors="replace")

    # --- API HTTP ---------------------------------------------------------------------
    def request_text(self, path: str, data: list[tuple[str, str]] | None = None) -> str:
        """Texte brut d'une réponse de scrapyd (GET, ou POST de formulaire si ``data``)."""
        body = None if data is None else urllib.parse.urlencode(data).encode("ascii")
        with urllib.request.urlopen(f"{self.url}/{path.lstrip('/')}", data=body,
                                    timeout=30) as response:
            text = response.read().decode("utf-8")
        self.answers.append(text)
        return text

    def get(self, path: str, **params: str) -> dict:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        return json.loads(self.request_text(path + query))

    def schedule(self, spider: str, project: str = PROJECT, **arguments: str) -> str:
        """Planifie un job ; les arguments du spider partent en chaînes, comme avec curl."""
        fields = [("project", project), ("spider", spider), *arguments.items()]
        answer = json.loads(self.request_text("schedule.json", fields))
        if answer.get("status") != "ok":
            raise AssertionError(f"schedule.json a refusé le job {spider} : {answer}")
        return answer["jobid"]

    def wait_finished(self, jobs: list[str], timeout: float = 60) -> dict[str, dict]:
        """Attend que tous les jobs soient dans « finished » ; renvoie leurs entrées."""
        deadline = time.monotonic() + timeout
        while True:
            listing = self.get("listjobs.json", project=PROJECT)
            finished = {entry["id"]: entry for entry in listing["finished"] if entry["id"] in jobs}
            if len(finished) == len(jobs):
                return finished
            if time.monotonic() > deadline:
                raise AssertionError(f"jobs non terminés après {timeout} s : {listing}\n"
                                     f"{self.log[-3000:]}")
            if self.process.poll() is not None:
                raise AssertionError(f"scrapyd s'est arrêté :\n{self.log[-3000:]}")
            time.sleep(0.2)

    def job_log(self, entry: dict) -> str:
        """Journal d'un job terminé, lu par l'URL que donne listjobs.json (/logs/...)."""
        return self.request_text(entry["log_url"])
