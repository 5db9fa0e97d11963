"""Outils des tests qui observent un processus vivant : secrets témoins, journal lu en direct."""

from __future__ import annotations

import base64
import os
import re
import signal
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest

# Ligne écrite par le service JSON-RPC une fois à l'écoute (crispscrape/jsonrpc/webservice.py).
LISTENING_RE = re.compile(r"Service JSON-RPC à l'écoute sur (\S+):(\d+)")


class Secrets:
    """Identifiants uniques : s'ils apparaissent quelque part, c'est une fuite, à coup sûr."""

    def __init__(self) -> None:
        self.identifier = f"ident-{uuid.uuid4().hex}"
        self.key = f"cle-{uuid.uuid4().hex}"
        self.basic = base64.b64encode(f"{self.identifier}:{self.key}".encode()).decode()

    def assert_absent(self, text: str, where: str = "une réponse") -> None:
        for label, value in (("identifiant", self.identifier), ("clé", self.key),
                             ("jeton Basic", self.basic)):
            assert value not in text, f"{label} Crisp trouvé dans {where} : {text[:300]}"


class LiveLog:
    """Un sous-processus dont la sortie (stdout + stderr) est lue au fil de l'eau."""

    def __init__(self, process) -> None:
        self.process = process
        self.lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line)

    @property
    def log(self) -> str:
        return "".join(self.lines)

    def wait_listening(self, timeout: float = 30) -> tuple[str, int]:
        """(hôte, port) du service JSON-RPC, lus dans le journal."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = LISTENING_RE.search(self.log)
            if match:
                return match.group(1), int(match.group(2))
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        pytest.fail(f"le service JSON-RPC n'a pas démarré :\n{self.log[-3000:]}")

    def wait_exit(self, timeout: float = 30) -> int:
        code = self.process.wait(timeout)
        self._reader.join(10)
        return code

    def kill(self) -> None:
        """SIGKILL au groupe du processus (il en a un s'il a été lancé en nouvelle session)."""
        if self.process.poll() is None:
            if os.getpgid(self.process.pid) == self.process.pid:
                os.killpg(self.process.pid, signal.SIGKILL)
            else:
                self.process.kill()
            self.process.wait(10)


def listening_sockets(pid: int) -> list[tuple[str, int]]:
    """(adresse, port) des sockets TCP en écoute d'un processus, lus dans /proc."""
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    found = []
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A = LISTEN
                continue
            hex_address, hex_port = local.split(":")
            raw = bytes.fromhex(hex_address)
            # /proc écrit l'adresse par mots de 32 bits, en ordre machine (petit-boutiste).
            raw = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
            found.append((socket.inet_ntop(family, raw), int(hex_port, 16)))
    return found
