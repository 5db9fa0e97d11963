"""Lance un crawl comme une personne le voit : sortie par défaut (mode console), dans un tuyau
(cron) ou dans un pseudo-terminal, sans -L ni LOG_FILE."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tests.support.crawling import ROOT, crawl_command, crawl_env


@dataclass
class Shown:
    returncode: int
    text: str

    @property
    def lines(self) -> list[str]:
        return [line.strip() for line in self.text.splitlines() if line.strip()]


def run_shown(spider: str, data_dir: Path, env: dict, args=None, settings=None,
              extra: tuple[str, ...] = (), tty: bool = False, timeout: float = 180) -> Shown:
    """Le crawl tel qu'affiché (sortie et erreurs mêlées) ; ``tty`` : dans un pseudo-terminal."""
    command = crawl_command(spider, args, settings) + list(extra)
    environment = crawl_env(env, data_dir)
    if not tty:
        done = subprocess.run(command, env=environment, cwd=ROOT, text=True, timeout=timeout,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return Shown(done.returncode, done.stdout)
    master, slave = pty.openpty()
    process = subprocess.Popen(command, env=environment, cwd=ROOT, stdout=slave, stderr=slave,
                               stdin=subprocess.DEVNULL)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.2)
        if ready:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO : le terminal est fermé de l'autre côté
                break
            if not chunk:
                break
            chunks.append(chunk)
        elif process.poll() is not None:
            break
    os.close(master)
    returncode = process.wait(timeout=30)
    return Shown(returncode, b"".join(chunks).decode("utf-8").replace("\r\n", "\n"))
