"""Les processus du banc du direct (``scrapy crawl account`` et ``scrapy crawl live``) et la
comparaison de leurs fichiers (octet pour octet, doublons, absents).

Comme chez l'utilisateur (bench/harness.py : identifiants dans l'environnement, aucune
variable CRISP_* du banc qui fuie) ; journaux complets (-L INFO) dans des fichiers à côté
du répertoire de données, statistiques finales par CRISP_STATS_FILE.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from bench import harness
from bench.live_watch import Expected, fingerprints, messages_path


def run_account(sandbox, data_dir: Path, settings: dict | None = None,
                timeout: float = 1800) -> dict:
    """``scrapy crawl account`` jusqu'au bout ; rend ses statistiques finales (BenchError
    s'il échoue). Appels comptés par le bac à sable : à lire par l'appelant."""
    data_dir.mkdir(parents=True, exist_ok=True)
    stats_path = data_dir.parent / f".stats-account-{time.monotonic_ns()}.json"
    log_path = data_dir.parent / f".account-{time.monotonic_ns()}.log"
    command = [sys.executable, "-m", "scrapy", "crawl", "account", "-L", "INFO",
               "-s", f"CRISP_STATS_FILE={stats_path}"]
    for key, value in (settings or {}).items():
        command += ["-s", f"{key}={value}"]
    code, *_ = harness._run(command, harness._environment(sandbox, data_dir), log_path,
                            timeout, marker=b"crawl\x00account")
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    if code != 0:
        tail = log_path.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise harness.BenchError(f"account a échoué (code {code}, fin "
                                 f"{stats.get('finish_reason')!r}) :\n{tail}")
    return stats


class LiveProcess:
    """Un vrai ``scrapy crawl live`` en sous-processus, journal complet dans un fichier."""

    def __init__(self, sandbox, data_dir: Path, settings: dict):
        self.sandbox = sandbox
        self.stats_path = data_dir.parent / f".stats-live-{time.monotonic_ns()}.json"
        self.log_path = data_dir.parent / f".live-{time.monotonic_ns()}.log"
        command = [sys.executable, "-m", "scrapy", "crawl", "live", "-L", "INFO",
                   "-s", f"CRISP_STATS_FILE={self.stats_path}"]
        for key, value in settings.items():
            command += ["-s", f"{key}={value}"]
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                command, cwd=harness.ROOT, env=harness._environment(sandbox, data_dir),
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.pid = self.process.pid
        self.stats: dict = {}

    def log_count(self, text: str) -> int:
        """Nombre de fois où ``text`` figure dans le journal du direct."""
        return self.log_path.read_text(encoding="utf-8", errors="replace").count(text)

    def log_tail(self, size: int = 3000) -> str:
        return self.log_path.read_text(encoding="utf-8", errors="replace")[-size:]

    def wait_connected(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.sandbox.admin("/_admin/rtm")["clients"] < 1:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise harness.BenchError(f"le direct ne s'est pas connecté :\n{self.log_tail()}")
            time.sleep(0.1)

    def kill(self) -> int:
        """SIGKILL au groupe du processus (arrêt brutal, sans fin propre) ; rend le code de
        sortie (-9 s'il tournait encore)."""
        if self.process.poll() is None:
            os.killpg(self.pid, signal.SIGKILL)
        return self.process.wait()

    def stop(self, timeout: float = 120) -> int:
        """SIGTERM (sa fin normale) ; rend le code de sortie (SIGKILL passé ``timeout``)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.pid, signal.SIGKILL)
                self.process.wait()
        if self.stats_path.exists():
            self.stats = json.loads(self.stats_path.read_text())
        return self.process.returncode


def quiet(sandbox, seconds: float = 2.0, timeout: float = 300) -> None:
    """Attend que plus personne n'appelle l'API depuis ``seconds`` secondes."""
    deadline = time.monotonic() + timeout
    last, since = None, time.monotonic()
    while time.monotonic() < deadline:
        calls = sandbox.admin("/_admin/stats")["calls"]
        if calls != last:
            last, since = calls, time.monotonic()
        elif time.monotonic() - since >= seconds:
            return
        time.sleep(0.1)
    raise harness.BenchError("le direct appelle encore l'API (pas de calme)")


def wait_until(what: str, condition, timeout: float) -> None:
    """Attend que ``condition()`` soit vraie (BenchError passé ``timeout`` secondes)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise harness.BenchError(f"attente trop longue : {what}")
        time.sleep(0.2)


def settled(sandbox, data_dir: Path, timeout: float = 300) -> float:
    """Attend qu'aucune conversation ne reste à relire (journal.state.json) puis le calme ;
    rend les secondes attendues."""
    started = time.monotonic()
    state = data_dir / "evenements" / "journal.state.json"
    while True:
        try:
            if json.loads(state.read_text())["unsettled"] == {}:
                break
        except (OSError, ValueError, KeyError):
            pass
        if time.monotonic() - started > timeout:
            raise harness.BenchError("des conversations restent à relire (unsettled)")
        time.sleep(0.1)
    quiet(sandbox)
    return time.monotonic() - started


def data_tree(data_dir: Path) -> dict[str, bytes]:
    """Les fichiers comparés : conversations/conversations.jsonl et conversations/messages/*.jsonl
    (ni les états, ni conversations/fichiers.jsonl, dont ``attempts`` compte les exécutions)."""
    root = data_dir / "conversations"
    files = {"conversations.jsonl": root / "conversations.jsonl"}
    files.update({f"messages/{p.name}": p for p in (root / "messages").glob("*.jsonl")})
    return {name: path.read_bytes() for name, path in sorted(files.items()) if path.is_file()}


def differing(mine: Path, fresh: Path) -> list[str]:
    a, b = data_tree(mine), data_tree(fresh)
    return sorted(name for name in a.keys() | b.keys() if a.get(name) != b.get(name))


def duplicated_fingerprints(data_dir: Path) -> int:
    """Lignes en trop : empreintes présentes plus d'une fois dans un même fichier."""
    extra = 0
    for path in (data_dir / "conversations" / "messages").glob("*.jsonl"):
        found = fingerprints(path.read_bytes())
        extra += len(found) - len(set(found))
    return extra


def absent(data_dir: Path, added: list[Expected]) -> int:
    """Messages ajoutés qui ne sont pas (ou plus) dans leur fichier à la fin."""
    by_session: dict[str, set[int]] = {}
    for item in added:
        by_session.setdefault(item.session_id, set()).add(item.fingerprint)
    missing = 0
    for session_id, wanted in by_session.items():
        path = messages_path(data_dir, session_id)
        present = set(fingerprints(path.read_bytes())) if path.is_file() else set()
        missing += len(wanted - present)
    return missing


def truth_gaps(sandbox, data_dir: Path) -> dict[str, list[tuple[str, int]]]:
    """Comparaison à la vérité du bac à sable, conversation par conversation, en
    (session_id, empreinte) : ``lost``, messages de la vérité absents de leur fichier ;
    ``extra``, messages d'un fichier absents de la vérité (supprimés chez Crisp, encore là) ;
    ``stale``, présents des deux côtés avec un autre contenu (modification manquée)."""
    gaps: dict[str, list[tuple[str, int]]] = {"lost": [], "extra": [], "stale": []}
    for conversation in sandbox.admin("/_admin/truth/conversations"):
        session_id = conversation["session_id"]
        truth = {m["fingerprint"]: m.get("content")
                 for m in sandbox.admin(f"/_admin/truth/messages/{session_id}")}
        path = messages_path(data_dir, session_id)
        lines = [json.loads(line) for line in path.read_bytes().splitlines() if line.strip()] \
            if path.is_file() else []
        present = {m.get("fingerprint"): m.get("content") for m in lines}
        gaps["lost"] += [(session_id, fp) for fp in truth if fp not in present]
        gaps["extra"] += [(session_id, fp) for fp in present if fp not in truth]
        gaps["stale"] += [(session_id, fp) for fp, content in present.items()
                          if fp in truth and truth[fp] != content]
    return gaps
