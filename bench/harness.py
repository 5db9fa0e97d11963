"""Outillage du banc d'essai : bac à sable, crawls en sous-processus, mesure de la mémoire.

Chaque export mesuré tourne comme chez l'utilisateur : un processus à part
(``scrapy crawl messages`` ou ``python -m bench.sequential``), identifiants dans
l'environnement, répertoire de données neuf. On récupère :

- la durée « murale » du processus (démarrage de l'interpréteur compris) ;
- le pic de mémoire résidente du processus lui-même (VmHWM, tenu par le noyau) :
  propre à ce processus, ni le bac à sable ni le banc n'y sont comptés ;
- son temps CPU (``os.wait4``) ;
- les statistiques finales de Scrapy (réglage CRISP_STATS_FILE).
"""

from __future__ import annotations

import compileall
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from crispsandbox.process import SandboxProcess

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class ProcessRun:
    """Résultat d'un export lancé dans un sous-processus."""

    returncode: int
    seconds: float
    peak_rss_kib: int
    cpu_seconds: float
    log_path: Path
    stats: dict = field(default_factory=dict)

    @property
    def peak_rss_mib(self) -> float:
        return self.peak_rss_kib / 1024

    def log_tail(self, size: int = 3000) -> str:
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return text[-size:]


class BenchError(RuntimeError):
    """Un export du banc a échoué : le message (en français) dit lequel et pourquoi."""


def start_sandbox(**options) -> SandboxProcess:
    """Bac à sable en sous-processus (options de sa ligne de commande). Chaque banc commence
    par là : les modules de cette copie sont compilés d'avance au même moment."""
    precompile()
    return SandboxProcess(**options).start()


def reset_counters(sandbox: SandboxProcess) -> None:
    sandbox.admin("/_admin/stats/reset", method="POST")


def set_faults(sandbox: SandboxProcess, **faults) -> None:
    sandbox.admin("/_admin/faults", method="POST", json=faults)


def write_conversations(data_dir: Path, conversations: list[dict]) -> None:
    """Écrit l'entrée de l'export des messages : conversations/conversations.jsonl."""
    path = data_dir / "conversations" / "conversations.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in conversations),
                    encoding="utf-8")


def precompile(tree: Path = ROOT) -> None:
    """Compile d'avance les modules d'une copie (``__pycache__``, ignoré par git).

    Le banc mesure le coût d'un export, pas celui de la compilation des sources : chez un
    utilisateur elle n'a lieu qu'une fois. Sans cela, avec PYTHONDONTWRITEBYTECODE (posé sur
    certaines machines, dont celle-ci), chaque exécution recompilait tout crispscrape
    (~0,3 s de CPU), et d'autant plus que le projet a de modules.
    """
    for package in ("crispscrape", "bench"):
        if (tree / package).is_dir():
            compileall.compile_dir(tree / package, quiet=1)


def _environment(sandbox: SandboxProcess, data_dir: Path, tree: Path = ROOT) -> dict:
    # Aucune variable CRISP_* de l'appelant ne doit fuir dans la mesure.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRISP_", "ID_SITE_CRISP"))}
    # Les modules compilés d'avance (precompile) doivent être lus : voir precompile.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(sandbox.env())
    env["CRISP_DATA_DIR"] = str(data_dir)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(tree), os.environ.get("PYTHONPATH")]))
    return env


def _high_water_kib(pid: int, marker: bytes) -> int | None:
    """VmHWM (pic de mémoire résidente) du processus, s'il exécute déjà la bonne commande.

    Avant ``exec``, l'enfant est une copie du banc : son pic serait celui du banc. On
    ne lit donc VmHWM qu'une fois la ligne de commande remplacée (elle contient
    ``marker``) ; après ``exec`` le noyau repart de zéro pour ce compteur.
    """
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            if marker not in handle.read():
                return None
        with open(f"/proc/{pid}/status", "rb") as handle:
            for line in handle:
                if line.startswith(b"VmHWM:"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        return None
    return None


def _run(command: list[str], env: dict, log_path: Path, timeout: float,
         marker: bytes, cwd: Path = ROOT) -> tuple[int, float, int, float]:
    """Lance la commande et attend sa fin.

    Renvoie (code de sortie, secondes, pic RSS en Kio, secondes de CPU). Le pic vient de
    VmHWM, relevé toutes les 20 ms : c'est un maximum tenu par le noyau, le relevé ne
    peut donc rien manquer sauf les 20 dernières millisecondes (l'arrêt du processus).
    ``ru_maxrss`` de wait4 ne convient pas : Linux y garde le pic d'avant ``exec``,
    c'est-à-dire celui du banc lui-même. Le temps CPU, lui, vient bien de wait4.
    """
    peak = 0
    with open(log_path, "wb") as log:
        started = time.perf_counter()
        process = subprocess.Popen(command, cwd=cwd, env=env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        deadline = started + timeout
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            if pid:
                break
            high = _high_water_kib(process.pid, marker)
            if high is not None:
                peak = max(peak, high)
            if time.perf_counter() > deadline:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
                raise BenchError(f"export trop long (> {timeout:.0f} s) ; journal : {log_path}")
            time.sleep(0.02)
        seconds = time.perf_counter() - started
    # wait4 a déjà récupéré le processus : on l'indique à Popen pour qu'il n'attende plus.
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, seconds, peak, usage.ru_utime + usage.ru_stime


def run_spider(sandbox: SandboxProcess, data_dir: Path, nb: int, settings: dict | None = None,
               timeout: float = 900, tree: Path = ROOT, args: dict | None = None) -> ProcessRun:
    """``scrapy crawl messages -a nb=N`` sur le répertoire de données donné ; ``tree`` : la
    copie de crispscrape à lancer (une autre, pour comparer deux versions côte à côte)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    stats_path = data_dir / f".stats-{time.monotonic_ns()}.json"
    log_path = data_dir / f".crawl-{time.monotonic_ns()}.log"
    command = [sys.executable, "-m", "scrapy", "crawl", "messages", "-a", f"nb={nb}",
               "-s", f"CRISP_STATS_FILE={stats_path}"]
    for key, value in (args or {}).items():
        command += ["-a", f"{key}={value}"]
    # Les pièces jointes (issue 12, activées par défaut) ne sont pas des appels à l'API et ni
    # l'exportateur séquentiel ni une version d'avant ne les téléchargent : le banc compare
    # le même travail (l'export des messages). Un appelant peut les remettre (settings).
    settings = {"CRISP_FILES_ENABLED": "False", **(settings or {})}
    for key, value in settings.items():
        command += ["-s", f"{key}={value}"]
    code, seconds, rss, cpu = _run(command, _environment(sandbox, data_dir, tree), log_path,
                                   timeout, marker=b"crawl\x00messages", cwd=tree)
    stats = json.loads(stats_path.read_text()) if stats_path.exists() else {}
    run = ProcessRun(code, seconds, rss, cpu, log_path, stats)
    if code != 0 or stats.get("finish_reason") != "finished":
        raise BenchError(f"l'export Scrapy a échoué (code {code}, fin "
                         f"{stats.get('finish_reason')!r}) ; fin du journal :\n{run.log_tail()}")
    return run


def run_sequential(sandbox: SandboxProcess, data_dir: Path, nb: int,
                   timeout: float = 1800) -> ProcessRun:
    """L'exportateur séquentiel de référence (bench/sequential.py), même entrée."""
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f".sequential-{time.monotonic_ns()}.log"
    command = [sys.executable, "-m", "bench.sequential", "--nb", str(nb)]
    code, seconds, rss, cpu = _run(command, _environment(sandbox, data_dir), log_path, timeout,
                                   marker=b"-m\x00bench.sequential")
    run = ProcessRun(code, seconds, rss, cpu, log_path)
    if code != 0:
        raise BenchError(f"l'exportateur séquentiel a échoué (code {code}) ; fin du journal :\n"
                         f"{run.log_tail()}")
    return run


def count_lines(directory: Path) -> int:
    """Nombre total de messages écrits (lignes non vides des fichiers .jsonl)."""
    total = 0
    for path in directory.glob("*.jsonl"):
        with open(path, "rb") as handle:
            total += sum(1 for line in handle if line.strip())
    return total


def paced(rate: float, count: int, start: float) -> Iterator[int]:
    """Les rangs 0 à count - 1, chacun à son heure : ``start + k / rate`` (perf_counter)."""
    for k in range(count):
        delay = start + k / rate - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        yield k
