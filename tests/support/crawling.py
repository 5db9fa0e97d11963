"""Lance de vrais crawls (``scrapy crawl`` dans un sous-processus) pour les tests.

Chaque crawl tourne comme chez l'utilisateur : commande crawl du projet, réglages du projet,
identifiants dans l'environnement. On récupère le code de sortie, le journal et les
statistiques finales (via CRISP_STATS_FILE).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class CrawlResult:
    returncode: int
    log: str
    stats: dict = field(default_factory=dict)

    @property
    def reason(self):
        return self.stats.get("finish_reason")


def crawl_command(spider: str, args: dict | None = None, settings: dict | None = None,
                  full_log: bool = False) -> list[str]:
    """``full_log`` : le journal complet de Scrapy (-L INFO), que lisent la plupart des tests ;
    sans lui, la sortie par défaut d'une personne (mode console, tests/support/console.py)."""
    command = [sys.executable, "-m", "scrapy", "crawl", spider]
    if full_log and not {"LOG_LEVEL", "LOG_FILE"} & set(settings or {}):
        command += ["-L", "INFO"]
    for key, value in (args or {}).items():
        command += ["-a", f"{key}={value}"]
    for key, value in (settings or {}).items():
        command += ["-s", f"{key}={value}"]
    return command


def crawl_env(env: dict, data_dir: Path) -> dict:
    full = {k: v for k, v in os.environ.items()
            if not k.startswith(("CRISP_", "ID_SITE_CRISP"))}
    full.update(env)
    full["CRISP_DATA_DIR"] = str(data_dir)
    full["PYTHONUNBUFFERED"] = "1"
    return full


def start_crawl(spider, data_dir: Path, env: dict, args=None, settings=None, stats_file=None,
                full_log: bool = True):
    """Démarre un crawl sans attendre sa fin (pour le tuer ou l'interroger en cours de route)."""
    settings = dict(settings or {})
    if stats_file is not None:
        settings["CRISP_STATS_FILE"] = str(stats_file)
    return subprocess.Popen(
        crawl_command(spider, args, settings, full_log), cwd=ROOT, env=crawl_env(env, data_dir),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )


def communicate_or_kill(process: subprocess.Popen, timeout: float, what: str):
    """Sortie et erreurs d'un sous-processus lancé dans sa propre session ; passé ``timeout``,
    tout son groupe est tué et le test échoue en montrant la fin de ce qu'il a écrit."""
    try:
        return process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        out, err = process.communicate()
        raise AssertionError(f"{what} trop long (> {timeout} s) :\n{(err or out or '')[-5000:]}") from None


def run_crawl(spider: str, data_dir: Path, env: dict, args=None, settings=None,
              timeout: float = 180, full_log: bool = True) -> CrawlResult:
    """Lance un crawl jusqu'au bout et renvoie son résultat (journal complet par défaut)."""
    data_dir = Path(data_dir)
    stats_file = data_dir.parent / f".stats-{spider}-{time.monotonic_ns()}.json"
    process = start_crawl(spider, data_dir, env, args, settings, stats_file, full_log)
    log, _ = communicate_or_kill(process, timeout, f"crawl {spider}")
    stats = json.loads(stats_file.read_text()) if stats_file.exists() else {}
    if stats_file.exists():
        stats_file.unlink()
    return CrawlResult(process.returncode, log, stats)


def read_jsonl(path: Path) -> list:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]
