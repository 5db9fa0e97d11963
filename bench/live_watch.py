"""Mesures du banc du direct (``python -m bench.live``), sans nouvelle dépendance.

- ``FileWatcher`` : un fil qui relève toutes les ~5 ms la signature (inode, taille, date)
  des seuls fichiers de messages qui attendent encore un message ajouté, et note l'heure
  où chaque empreinte y apparaît pour la première fois ;
- ``RssSampler`` : VmRSS et CPU du direct (``/proc/PID``), charge de la machine, chaque seconde ;
- ``AdminClient`` : l'API d'administration du bac à sable sur une connexion gardée ouverte
  (moins de CPU pour le banc, qui partage la machine avec ce qu'il mesure) ;
- ``Chats`` et ``drive`` : la charge, des discussions qui s'ouvrent et se taisent, un message
  par appel d'administration, cadencé.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench import harness
from urllib.parse import urlsplit

from bench.report import number

POLL_SECONDS = 0.005
LOST_SECONDS = 10.0
SESSION_LENGTH = (5, 20)  # messages d'une discussion avant qu'elle se taise


def fingerprints(data: bytes) -> list[int]:
    """Empreintes des lignes d'un fichier de messages (clé de premier niveau seulement : les
    ``references`` d'un message peuvent citer l'empreinte d'un autre)."""
    found = []
    for line in data.splitlines():
        if line.strip():
            value = json.loads(line).get("fingerprint")
            if isinstance(value, int):
                found.append(value)
    return found


def messages_path(data_dir: Path, session_id: str) -> Path:
    return data_dir / "conversations" / "messages" / f"{session_id}.jsonl"


@dataclass
class Expected:
    """Un message ajouté : t0 juste avant l'appel d'administration, t1 à sa première vue."""

    session_id: str
    fingerprint: int
    t0: float
    t1: float | None = None


@dataclass
class _Watched:
    path: str
    signature: tuple | None = None
    waiting: dict[int, Expected] = field(default_factory=dict)


class FileWatcher(threading.Thread):
    """Relève les fichiers qui attendent un message ; ``seen`` et ``lost`` à la fin."""

    def __init__(self, data_dir: Path):
        super().__init__(name="surveillance-fichiers", daemon=True)
        self.data_dir = data_dir
        self.lock = threading.Lock()
        self.files: dict[str, _Watched] = {}
        self.seen: list[Expected] = []
        self.lost: list[Expected] = []
        self.reads = 0
        self._halt = threading.Event()

    def expect(self, item: Expected) -> None:
        with self.lock:
            watched = self.files.get(item.session_id)
            if watched is None:
                watched = self.files[item.session_id] = _Watched(
                    os.fspath(messages_path(self.data_dir, item.session_id)))
            watched.waiting[item.fingerprint] = item
            watched.signature = None  # peut-être déjà écrit : relu au prochain tour

    def pending(self) -> int:
        with self.lock:
            return sum(len(w.waiting) for w in self.files.values())

    def run(self) -> None:
        while not self._halt.is_set():
            self.poll_once()
            time.sleep(POLL_SECONDS)

    def poll_once(self) -> None:
        with self.lock:
            watched = [w for w in self.files.values() if w.waiting]
        for entry in watched:
            try:
                stat = os.stat(entry.path)
            except FileNotFoundError:
                continue
            signature = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
            if signature == entry.signature:
                continue
            with open(entry.path, "rb") as handle:
                data = handle.read()
            now = time.perf_counter()
            self.reads += 1
            present = set(fingerprints(data))
            with self.lock:
                entry.signature = signature
                for fingerprint in list(entry.waiting):
                    if fingerprint in present:
                        item = entry.waiting.pop(fingerprint)
                        item.t1 = now
                        self.seen.append(item)
        self._expire(time.perf_counter())

    def _expire(self, now: float) -> None:
        with self.lock:
            for entry in self.files.values():
                for fingerprint, item in list(entry.waiting.items()):
                    if now - item.t0 > LOST_SECONDS:
                        self.lost.append(entry.waiting.pop(fingerprint))

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


class RssSampler(threading.Thread):
    """Une fois par seconde : [(secondes, VmRSS en Kio, CPU du processus en s, charge
    moyenne de la machine sur 1 min), …]."""

    def __init__(self, pid: int, origin: float):
        super().__init__(name="rss", daemon=True)
        self.pid, self.origin = pid, origin
        self.samples: list[tuple[float, int, float, float]] = []
        self._halt = threading.Event()

    def run(self) -> None:
        while not self._halt.wait(1.0 - (time.perf_counter() - self.origin) % 1.0):
            kib, cpu = vm_rss_kib(self.pid), cpu_seconds(self.pid)
            if kib is None or cpu is None:
                return
            self.samples.append((time.perf_counter() - self.origin, kib, cpu, os.getloadavg()[0]))

    def mean(self, start: float, end: float, column: int = 1) -> float | None:
        """Moyenne d'une colonne (1 : VmRSS, 3 : charge) entre deux instants."""
        values = [s[column] for s in self.samples if start <= s[0] < end]
        return sum(values) / len(values) if values else None

    def cpu_between(self, start: float, end: float) -> tuple[float, float] | None:
        """(secondes de CPU, secondes écoulées) entre les relevés de cet intervalle."""
        inside = [(s[0], s[2]) for s in self.samples if start <= s[0] <= end]
        if len(inside) < 2:
            return None
        return inside[-1][1] - inside[0][1], inside[-1][0] - inside[0][0]

    def stop(self) -> None:
        self._halt.set()
        self.join(5)


def cpu_seconds(pid: int) -> float | None:
    """utime + stime de /proc/PID/stat, en secondes."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            fields = handle.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def vm_rss_kib(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmRSS:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


class AdminClient:
    """POST JSON sur /_admin, connexion HTTP/1.1 gardée ouverte."""

    def __init__(self, base: str):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.connection: http.client.HTTPConnection | None = None

    def call(self, path: str, payload: object) -> object:
        """Une connexion coupée est rouverte à l'appel suivant, sans rejouer celui-ci (un ajout
        rejoué ajouterait peut-être un message de plus)."""
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=30)
        try:
            self.connection.request("POST", path, body=json.dumps(payload),
                                    headers={"Content-Type": "application/json"})
            response = self.connection.getresponse()
            data = response.read()
        except (OSError, http.client.HTTPException):
            self.close()
            raise
        if response.status != 200:
            raise RuntimeError(f"POST {path} : statut {response.status} {data[:200]!r}")
        return json.loads(data)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def ms(seconds: float, decimals: int = 1) -> str:
    return f"{number(seconds * 1000, decimals)} ms"


def per_minute(added: list[Expected]) -> str:
    if not added:
        return "—"
    start, minutes = added[0].t0, {}
    for item in added:
        minutes.setdefault(int((item.t0 - start) // 60), []).append(item)
    parts = []
    for minute, items in sorted(minutes.items()):
        seen = [i.t1 - i.t0 for i in items if i.t1 is not None]
        parts.append(f"{minute + 1} : {ms(percentile(seen, 0.5), 0)} / "
                     f"{ms(percentile(seen, 0.99), 0)} ; {len(items) - len(seen)}")
    return " — ".join(parts) + "."


def cpu_text(rss: RssSampler, start: float, end: float, rate: float) -> str:
    measured = rss.cpu_between(start, end)
    if measured is None:
        return "—"
    cpu, seconds = measured
    return (f"{number(cpu, 1)} s de CPU en {number(seconds, 0)} s "
            f"({number(100 * cpu / seconds, 0)} % d'un cœur), "
            f"{number(1000 * cpu / max(1, rate * seconds), 1)} ms par événement envoyé")


def percentile(values: list[float], q: float) -> float:
    """Centile au rang le plus proche (valeurs triées)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Chats:
    """Choix de la conversation de chaque message : des discussions qui s'ouvrent et se taisent."""

    def __init__(self, session_ids: list[str], open_count: int, seed: int):
        self.ids, self.open_count = session_ids, min(open_count, len(session_ids))
        self.rng = random.Random(seed)
        self.left: dict[str, int] = {}

    def next(self) -> str:
        while len(self.left) < self.open_count:
            session_id = self.rng.choice(self.ids)
            self.left.setdefault(session_id, self.rng.randint(*SESSION_LENGTH))
        session_id = self.rng.choice(list(self.left))
        self.left[session_id] -= 1
        if not self.left[session_id]:
            del self.left[session_id]
        return session_id


def drive(sandbox, watcher: FileWatcher, chats: Chats, rate: float, seconds: float,
          say) -> tuple[list[Expected], list[float], float]:
    """Ajoute un message toutes les 1/R s ; rend (ajouts, durées des appels, durée réelle)."""
    client = AdminClient(sandbox.base)
    added, admin_seconds = [], []
    total = int(rate * seconds)
    start = next_report = time.perf_counter()
    try:
        for k in harness.paced(rate, total, start):
            session_id = chats.next()
            t0 = time.perf_counter()
            [message] = client.call(f"/_admin/conversations/{session_id}/messages", {"count": 1})
            admin_seconds.append(time.perf_counter() - t0)
            item = Expected(session_id, message["fingerprint"], t0)
            watcher.expect(item)
            added.append(item)
            if time.perf_counter() >= next_report:
                next_report += 30
                say(f"charge : {k + 1}/{total} messages, {watcher.pending()} pas encore vus, "
                    f"{len(watcher.lost)} perdus")
    finally:
        client.close()
    return added, admin_seconds, time.perf_counter() - start
