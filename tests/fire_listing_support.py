"""Outils des recettes « sous le feu » des exports de listes : conversations et utilisateurs.

Tout est observé de l'extérieur, sans crochet dans le code de production :

- déclencheurs d'arrêt (``Delay``, ``Calls``, ``FileChanged``, ``TempFile``) : un moment de
  l'export, lu dans les compteurs du bac à sable ou dans le répertoire de données ;
- ``interrupt`` : démarre un vrai ``scrapy crawl``, attend le moment, envoie le signal
  (SIGKILL ou SIGTERM) à tout le groupe du processus, rend code de sortie, journal et
  statistiques ;
- ``read_snapshot`` : lit un fichier JSONL tel qu'il est sur le disque, même juste après
  un SIGKILL (lignes complètes, fragment final éventuel, lignes illisibles) ;
- petits utilitaires : fichiers temporaires d'écriture atomique, récapitulatif français,
  compteurs de statuts du bac à sable.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import struct
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.crawling import start_crawl

# Reculs très courts et réessais nombreux : les recettes de pannes restent rapides.
FAST = {"CRISP_RETRY_BASE_DELAY": 0.01, "CRISP_THROTTLE_BASE_DELAY": 0.05, "RETRY_TIMES": 8}
# Concurrence basse : les moments d'arrêt se répartissent mieux sur l'export des profils.
LOW_CONCURRENCY = {"CONCURRENT_REQUESTS": 2, "CONCURRENT_REQUESTS_PER_DOMAIN": 2}
SHUTDOWN_END = "Fin : arrêt demandé (Ctrl-C / SIGTERM), état sauvegardé"


# --- Déclencheurs d'arrêt -------------------------------------------------------------
class Trigger:
    """Un moment de l'export ; ``ready()`` est interrogé en boucle pendant le crawl."""

    interval = 0.003
    description = ""

    def arm(self, sandbox, data_dir: Path) -> None:
        """Mémorise la situation de départ, juste avant le lancement du crawl."""
        self.sandbox, self.data_dir = sandbox, Path(data_dir)

    def ready(self) -> bool:
        raise NotImplementedError

    def close(self) -> None:
        """Libère ce que ``arm`` a ouvert."""


class Delay(Trigger):
    """Un délai fixe après le lancement : démarrage du processus, lecture des fichiers."""

    interval = 0.005

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.description = f"{seconds:.2f} s après le lancement (démarrage)"

    def arm(self, sandbox, data_dir):
        super().arm(sandbox, data_dir)
        self.started = time.monotonic()

    def ready(self):
        return time.monotonic() - self.started >= self.seconds


class Calls(Trigger):
    """``after`` secondes après le n-ième appel API de ce crawl vu par le bac à sable.

    Le bac à sable compte l'appel dès son arrivée, avant sa latence : avec ``after`` nul,
    la réponse est encore en vol ; avec ``after`` proche de la latence, elle arrive et
    est en cours de traitement (écriture du fichier, de l'état).
    """

    def __init__(self, count: int, after: float = 0.0):
        self.count, self.after = count, after
        self.description = (f"appel n°{count} en vol" if not after else
                            f"{after * 1000:.0f} ms après l'appel n°{count}")
        self.reached_at = None

    def _calls(self) -> int:
        return self.sandbox.admin("/_admin/stats")["calls"]

    def arm(self, sandbox, data_dir):
        super().arm(sandbox, data_dir)
        self.base = self._calls()
        self.reached_at = None

    def ready(self):
        if self.reached_at is None:
            if self._calls() - self.base < self.count:
                return False
            self.reached_at = time.monotonic()
        return time.monotonic() - self.reached_at >= self.after


def temp_files(directory: Path) -> list[str]:
    """Fichiers temporaires d'écriture atomique (« .{nom}.XXXX.tmp ») d'un répertoire."""
    try:
        names = os.listdir(directory)
    except FileNotFoundError:
        return []
    return sorted(n for n in names if n.startswith(".") and n.endswith(".tmp"))


# Événements inotify (linux/inotify.h).
IN_MODIFY, IN_CLOSE_WRITE, IN_MOVED_TO, IN_CREATE = 0x2, 0x8, 0x80, 0x100
_EVENT = struct.Struct("iIII")
_libc = ctypes.CDLL(None, use_errno=True)


class DirectoryWatch:
    """Événements du noyau (inotify) sur un répertoire de l'export.

    Pourquoi pas une simple boucle sur os.listdir / os.stat : sur une machine chargée,
    le processus de test peut ne pas être servi pendant plusieurs millisecondes et rater
    un fichier temporaire qui ne vit que le temps d'un fsync ; le moment visé glisserait
    alors de plusieurs pages. Le noyau, lui, met chaque événement en file : rien n'est
    manqué, et l'attente bloquante réveille le test dès qu'il se passe quelque chose.
    """

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.fd = _libc.inotify_init1(os.O_NONBLOCK | os.O_CLOEXEC)
        if self.fd < 0:
            raise OSError(ctypes.get_errno(), "inotify_init1 impossible")
        self.watching = False
        self._watch()

    def _watch(self) -> None:
        # Le répertoire n'existe pas encore au premier lancement : surveillé dès qu'il
        # apparaît (l'araignée le crée au démarrage, bien avant d'y écrire).
        if not self.watching and self.directory.is_dir():
            mask = IN_MODIFY | IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE
            self.watching = _libc.inotify_add_watch(self.fd, os.fsencode(self.directory),
                                                    mask) >= 0

    def events(self, timeout: float) -> list[tuple[int, str]]:
        """(masque, nom) des événements arrivés, en attendant au plus ``timeout`` secondes."""
        self._watch()
        if not self.watching:
            time.sleep(timeout)
            return []
        if not select.select([self.fd], [], [], timeout)[0]:
            return []
        try:
            data = os.read(self.fd, 1 << 16)
        except BlockingIOError:
            return []
        found, offset = [], 0
        while offset < len(data):
            _, mask, _, length = _EVENT.unpack_from(data, offset)
            start = offset + _EVENT.size
            found.append((mask, data[start:start + length].rstrip(b"\0").decode()))
            offset = start + length
        return found

    def close(self) -> None:
        os.close(self.fd)


class WatchTrigger(Trigger):
    """Déclencheur nourri par les événements inotify d'un répertoire de l'export."""

    interval = 0  # l'attente se fait dans select()
    WAIT = 0.002

    def arm(self, sandbox, data_dir):
        super().arm(sandbox, data_dir)
        self.watch = DirectoryWatch(self.data_dir / self.relative_dir)
        self.fired_at = None

    def ready(self):
        if self.fired_at is None:
            for mask, name in self.watch.events(self.WAIT):
                if self.event(mask, name):
                    self.fired_at = time.monotonic()
                    break
            else:
                return False
        return time.monotonic() - self.fired_at >= self.after

    def event(self, mask: int, name: str) -> bool:
        """Vrai quand le moment est atteint."""
        raise NotImplementedError

    def close(self):
        self.watch.close()


class FileChanged(WatchTrigger):
    """``after`` secondes après le DÉBUT du n-ième changement d'un fichier : un ajout de
    lignes (première écriture d'un ajout, qui se termine à la fermeture du fichier) ou un
    remplacement atomique (renommage du fichier temporaire : une sauvegarde d'état)."""

    def __init__(self, relative: str, what: str, after: float = 0.0, nth: int = 1):
        self.relative_dir, self.name = os.path.split(relative)
        self.after, self.nth = after, nth
        rank = "" if nth == 1 else f"{nth}e "
        self.description = (f"dès le {rank}changement {what}" if not after else
                            f"{after * 1000:.1f} ms après le {rank}changement {what}")

    def arm(self, sandbox, data_dir):
        super().arm(sandbox, data_dir)
        self.changes, self.writing = 0, False

    def event(self, mask, name):
        if name != self.name:
            return False
        started = False
        if mask & IN_MODIFY and not self.writing:
            self.writing, started = True, True
        elif mask & IN_MOVED_TO:
            started = not self.writing
            self.writing = False
        elif mask & IN_CLOSE_WRITE:
            self.writing = False
        if started:
            self.changes += 1
        return started and self.changes >= self.nth


class TempFile(WatchTrigger):
    """Dès la création du n-ième fichier temporaire de l'écriture atomique de ``name`` :
    le processus meurt en pleine réécriture, avant le os.replace."""

    after = 0.0

    def __init__(self, relative_dir: str, name: str, what: str, nth: int = 1):
        self.relative_dir, self.name, self.nth = relative_dir, name, nth
        rank = "" if nth == 1 else f" (la {nth}e)"
        self.description = f"pendant la réécriture atomique {what}{rank}"

    def arm(self, sandbox, data_dir):
        super().arm(sandbox, data_dir)
        self.count = 0

    def event(self, mask, name):
        if not (mask & IN_CREATE and self._matches(name)):
            return False
        self.count += 1
        return self.count >= self.nth

    def _matches(self, candidate: str) -> bool:
        # « .conversations.jsonl.state.json.X.tmp » commence aussi par
        # « .conversations.jsonl. » : on écarte l'état quand on vise le fichier de données.
        if not (candidate.startswith(f".{self.name}.") and candidate.endswith(".tmp")):
            return False
        rest = candidate[len(self.name) + 2:]
        return self.name.endswith(".state.json") or not rest.startswith("state.json.")


# --- Arrêt d'un vrai crawl --------------------------------------------------------------
@dataclass
class Interrupted:
    """Issue d'un crawl interrompu (ou terminé avant que le moment n'arrive)."""

    description: str
    fired: bool
    returncode: int
    log: str
    stats: dict
    stop_seconds: float = 0.0
    temp_left: list[str] = field(default_factory=list)

    @property
    def reason(self):
        return self.stats.get("finish_reason")


def interrupt(spider: str, sandbox, data_dir: Path, trigger: Trigger, watched_dir: str,
              sig=signal.SIGKILL, args=None, settings=None, timeout: float = 60,
              stop_timeout: float = 20) -> Interrupted:
    """Lance un crawl, attend ``trigger``, envoie ``sig`` au groupe du processus.

    ``fired`` est faux si le crawl a fini avant le moment voulu. Si, après le signal, le
    crawl ne s'arrête pas dans ``stop_timeout`` secondes, il est tué et ``stop_seconds``
    vaut l'infini (à l'appelant de le refuser). ``temp_left`` : fichiers temporaires
    apparus dans ``watched_dir`` et restés après la mort du processus.
    """
    data_dir = Path(data_dir)
    directory = data_dir / watched_dir
    before = set(temp_files(directory))
    stats_file = data_dir.parent / f".stats-{spider}-{time.monotonic_ns()}.json"
    trigger.arm(sandbox, data_dir)
    process = start_crawl(spider, data_dir, sandbox.env(), args, settings, stats_file)
    deadline = time.monotonic() + timeout
    fired = False
    stop_seconds = 0.0
    try:
        while process.poll() is None:
            if trigger.ready():
                os.killpg(process.pid, sig)
                fired = True
                break
            if time.monotonic() > deadline:
                raise AssertionError(f"le moment « {trigger.description} » n'est jamais arrivé")
            if trigger.interval:
                time.sleep(trigger.interval)
        signalled = time.monotonic()
        try:
            log, _ = process.communicate(timeout=stop_timeout)
            stop_seconds = time.monotonic() - signalled
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            log, _ = process.communicate()
            stop_seconds = float("inf")
    finally:
        trigger.close()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    stats_file.unlink(missing_ok=True)
    left = [n for n in temp_files(directory) if n not in before]
    return Interrupted(trigger.description, fired, process.returncode, log, stats,
                       stop_seconds, left)


# --- Lecture d'un fichier sur le disque --------------------------------------------------
@dataclass
class Snapshot:
    """Un fichier JSONL tel qu'il est sur le disque."""

    objects: list = field(default_factory=list)
    # Dernière ligne sans saut de ligne final (ajout coupé par un SIGKILL), sinon None.
    fragment: bytes | None = None
    problems: list[str] = field(default_factory=list)


def read_snapshot(path: Path) -> Snapshot:
    """Lignes complètes décodées ; une ligne complète illisible est un problème."""
    found = Snapshot()
    if not path.exists():
        return found
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    if lines[-1]:
        found.fragment = lines[-1]
    for number, line in enumerate(lines[:-1], start=1):
        try:
            found.objects.append(json.loads(line.decode("utf-8")))
        except ValueError:
            found.problems.append(f"{path.name}, ligne {number} complète mais illisible : "
                                  f"{line[:80]!r}")
    return found


def read_state(path: Path) -> tuple[dict | None, str | None]:
    """(état, problème) : l'état doit être un objet JSON valide, à tout moment."""
    if not path.exists():
        return None, None
    text = path.read_text(encoding="utf-8")
    try:
        state = json.loads(text)
    except ValueError as exc:
        return None, f"état illisible ({exc}) : {text[:200]!r}"
    if not isinstance(state, dict):
        return None, f"état qui n'est pas un objet : {state!r}"
    return state, None


# --- Journal et compteurs ----------------------------------------------------------------
def summary_block(log: str) -> str:
    """Le récapitulatif français du crawl (de « Récapitulatif » jusqu'à la ligne « Fin : »)."""
    start = log.rfind("Récapitulatif")
    assert start >= 0, f"pas de récapitulatif dans le journal :\n{log[-3000:]}"
    end = log.find("Fin :", start)
    end = log.find("\n", end) if end >= 0 else -1
    return log[start:end if end >= 0 else len(log)]


def statuses(sandbox) -> dict[str, int]:
    """Réponses du bac à sable par statut (« reset » = connexion coupée sans réponse)."""
    return sandbox.admin("/_admin/stats")["by_status"]


def reset_sandbox(sandbox, **faults) -> None:
    """Pannes et compteurs remis à zéro, quota compris, puis ``faults`` appliquées."""
    sandbox.admin("/_admin/faults/reset", method="POST")
    sandbox.admin("/_admin/quota/reset", method="POST")
    sandbox.admin("/_admin/stats/reset", method="POST")
    if faults:
        sandbox.admin("/_admin/faults", method="POST", json=faults)


def retry_reasons(stats: dict) -> dict[str, int]:
    """Réessais par raison, d'après les statistiques Scrapy (``retry/reason_count/...``)."""
    prefix = "retry/reason_count/"
    return {k[len(prefix):]: v for k, v in stats.items() if k.startswith(prefix)}
