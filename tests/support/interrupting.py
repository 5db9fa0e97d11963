"""Arrêter un vrai ``scrapy crawl`` à un moment précis, puis juger l'arrêt : outils communs à
toutes les recettes « sous le feu » (messages, conversations, utilisateurs).

- déclencheurs d'arrêt génériques (``Trigger``, ``Delay``, ``CounterReached`` et
  ``Calls``) et ceux nourris par les événements du noyau sur un répertoire de l'export
  (``DirectoryWatch``, ``WatchTrigger``, ``TempFileCreated``) ;
- ``interrupt`` : démarre un vrai crawl, attend le moment, envoie le signal (SIGKILL ou
  SIGTERM) à tout le groupe du processus, rend code de sortie, journal, statistiques et
  fichiers temporaires laissés sur place ;
- vérifications répétées d'une recette à l'autre : arrêt propre sur SIGTERM
  (``assert_clean_stop``), chaîne de SIGKILL (``Kill``, ``assert_every_kill_fired``,
  ``kill_problems``, ``assert_no_abandoned_temp_files``) ;
- petits utilitaires : fichiers temporaires d'écriture atomique, fichier d'état lu sans
  confiance, récapitulatif français du journal.

Tout est observé de l'extérieur (compteurs du bac à sable, fichiers du répertoire de
données), sans crochet dans le code de production.
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

from tests.support.crawling import start_crawl

# Reculs très courts et réessais nombreux : les recettes de pannes restent rapides.
FAST = {"CRISP_RETRY_BASE_DELAY": 0.01, "CRISP_THROTTLE_BASE_DELAY": 0.05, "RETRY_TIMES": 8}
# Concurrence basse : les moments d'arrêt se répartissent mieux sur l'export.
LOW_CONCURRENCY = {"CONCURRENT_REQUESTS": 2, "CONCURRENT_REQUESTS_PER_DOMAIN": 2}
# Dernière ligne du récapitulatif après un SIGTERM (ou un Ctrl-C).
SHUTDOWN_END = "Fin : arrêt demandé (Ctrl-C / SIGTERM), état sauvegardé : arrêt prévu, reprise au prochain lancement."


# --- Fichiers du répertoire de données -----------------------------------------------------
def is_temp(name: str) -> bool:
    """Vrai pour un fichier temporaire d'écriture atomique (« .{nom}.XXXX.tmp »)."""
    return name.startswith(".") and name.endswith(".tmp")


def temp_files(directory: Path) -> list[str]:
    """Fichiers temporaires d'écriture atomique d'un répertoire (absent : aucun)."""
    try:
        names = os.listdir(directory)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(name for name in names if is_temp(name))


def load_state(path: Path) -> tuple[dict | None, str | None]:
    """(état, problème) : un fichier d'état doit être un objet JSON valide, à tout moment.

    Fichier absent : (None, None). Illisible (UTF-8 compris) ou autre chose qu'un objet :
    (None, problème).
    """
    if not path.exists():
        return None, None
    raw = path.read_bytes()
    try:
        state = json.loads(raw.decode("utf-8"))
    except ValueError as exc:
        text = raw.decode("utf-8", "replace")
        return None, f"état illisible ({exc}) : {text[:200]!r}"
    if not isinstance(state, dict):
        return None, f"état qui n'est pas un objet : {state!r}"
    return state, None


def summary_block(log: str) -> str:
    """Le récapitulatif français du crawl, de « Récapitulatif » à la ligne « Fin : »."""
    start = log.rfind("Récapitulatif")
    assert start >= 0, f"pas de récapitulatif dans le journal :\n{log[-3000:]}"
    end = log.find("Fin : ", start)
    assert end >= 0, f"récapitulatif sans ligne « Fin : » :\n{log[start:start + 3000]}"
    end = log.find("\n", end)
    return log[start:end if end >= 0 else len(log)]


# --- Déclencheurs d'arrêt -------------------------------------------------------------
class Trigger:
    """Un moment de l'export, observé de l'extérieur ; ``ready()`` est interrogé en boucle."""

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

    interval = 0.001

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.description = f"{seconds:.2f} s après le lancement (démarrage)"

    def arm(self, sandbox, data_dir):
        super().arm(sandbox, data_dir)
        self.started = time.monotonic()

    def ready(self):
        return time.monotonic() - self.started >= self.seconds


class CounterReached(Trigger):
    """``after`` secondes après que le compteur ``counter()`` du bac à sable a augmenté de
    ``count`` depuis le lancement du crawl."""

    count = 1
    after = 0.0

    def counter(self) -> int:
        raise NotImplementedError

    def arm(self, sandbox, data_dir):
        super().arm(sandbox, data_dir)
        self.base = self.counter()
        self.reached_at = None

    def ready(self):
        if self.reached_at is None:
            if self.counter() - self.base < self.count:
                return False
            self.reached_at = time.monotonic()
        return time.monotonic() - self.reached_at >= self.after


class Calls(CounterReached):
    """``after`` secondes après le n-ième appel API de ce crawl vu par le bac à sable.

    Le bac à sable compte l'appel dès son arrivée, avant sa latence : avec ``after`` nul,
    la réponse est encore en vol ; avec ``after`` proche de la latence, elle arrive et
    est en cours de traitement (écriture du fichier, de l'état).
    """

    def __init__(self, count: int, after: float = 0.0):
        self.count, self.after = count, after
        self.description = (f"appel n°{count} en vol" if not after else
                            f"{after * 1000:.0f} ms après l'appel n°{count}")

    def counter(self) -> int:
        return self.sandbox.admin("/_admin/stats")["calls"]


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
    """Déclencheur nourri par les événements inotify du répertoire ``relative_dir`` (relatif
    au répertoire de données) ; le moment est ``after`` secondes après l'événement visé."""

    interval = 0  # l'attente se fait dans select()
    WAIT = 0.002
    relative_dir = ""
    after = 0.0

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


class TempFileCreated(WatchTrigger):
    """Dès la création du n-ième fichier temporaire d'écriture atomique visé par
    ``matches`` : le processus meurt en pleine réécriture, avant le os.replace."""

    nth = 1

    def arm(self, sandbox, data_dir):
        super().arm(sandbox, data_dir)
        self.count = 0

    def event(self, mask, name):
        if not (mask & IN_CREATE and is_temp(name) and self.matches(name)):
            return False
        self.count += 1
        return self.count >= self.nth

    def matches(self, name: str) -> bool:
        """Vrai si ce fichier temporaire est celui d'une écriture visée."""
        raise NotImplementedError


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
              sig=signal.SIGKILL, args=None, settings=None, env=None, timeout: float = 60,
              stop_timeout: float = 20) -> Interrupted:
    """Lance un crawl, attend ``trigger``, envoie ``sig`` au groupe du processus.

    ``fired`` est faux si le crawl a fini avant le moment voulu. Si, après le signal, le
    crawl ne s'arrête pas dans ``stop_timeout`` secondes, il est tué et ``stop_seconds``
    vaut l'infini (à l'appelant de le refuser). ``temp_left`` : fichiers temporaires
    apparus dans ``watched_dir`` (relatif au répertoire de données) et restés après la
    mort du processus. ``env`` : environnement du crawl, celui du bac à sable par défaut.
    """
    data_dir = Path(data_dir)
    directory = data_dir / watched_dir
    before = set(temp_files(directory))
    stats_file = data_dir.parent / f".stats-{spider}-{time.monotonic_ns()}.json"
    trigger.arm(sandbox, data_dir)
    process = start_crawl(spider, data_dir, env or sandbox.env(), args, settings, stats_file)
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
    left = [name for name in temp_files(directory) if name not in before]
    return Interrupted(trigger.description, fired, process.returncode, log, stats,
                       stop_seconds, left)


# --- Vérifications communes aux recettes -------------------------------------------------
def assert_clean_stop(outcome: Interrupted, spider: str, max_seconds: float) -> str:
    """Arrêt propre sur SIGTERM : moment atteint, arrêt en moins de ``max_seconds``
    secondes, code 2, raison « shutdown », récapitulatif français qui dit « arrêt
    demandé ». Rend ce récapitulatif, pour les vérifications propres à chaque export."""
    assert outcome.fired, f"moment jamais atteint : {outcome.description}"
    assert outcome.stop_seconds < max_seconds, f"arrêt trop lent : {outcome.stop_seconds:.1f} s"
    assert outcome.returncode == 2, outcome.log[-3000:]
    assert outcome.reason == "shutdown"
    assert "Received SIGTERM" in outcome.log
    summary = summary_block(outcome.log)
    assert summary.startswith(f"Récapitulatif {spider}")
    assert SHUTDOWN_END in summary
    return summary


@dataclass
class Kill:
    """Un arrêt d'une chaîne de SIGKILL : l'issue du crawl et l'inspection qui l'a suivie
    (propre à chaque export, avec au moins une liste ``problems``)."""

    outcome: Interrupted
    inspection: object


def assert_every_kill_fired(kills: list[Kill]) -> list[str]:
    """Chaque moment a été atteint avant la fin du crawl, et c'est un vrai SIGKILL qui l'a
    arrêté. Rend les fichiers temporaires laissés par les écritures tuées."""
    not_reached = [k.outcome.description for k in kills if not k.outcome.fired]
    assert not not_reached, f"moments jamais atteints (le crawl a fini avant) : {not_reached}"
    assert all(k.outcome.returncode == -signal.SIGKILL for k in kills)
    return [name for k in kills for name in k.outcome.temp_left]


def kill_problems(kills: list[Kill]) -> dict[str, list[str]]:
    """Problèmes trouvés après chaque arrêt, par « rang. moment » (vide : tout va bien)."""
    return {f"{i}. {k.outcome.description}": k.inspection.problems
            for i, k in enumerate(kills, start=1) if k.inspection.problems}


def assert_no_abandoned_temp_files(left: list[str]) -> None:
    """Les temporaires des écritures tuées doivent avoir été nettoyés par une exécution
    suivante : sinon chaque arrêt brutal en laisse un de plus, indéfiniment."""
    assert not left, f"{len(left)} fichier(s) temporaire(s) abandonné(s) : {left}"
