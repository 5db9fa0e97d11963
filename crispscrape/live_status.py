"""Où en est le direct (``scrapy crawl live``), en une ligne : pour ``scrapy status``, d'après
les fichiers seuls, et le mot de l'état de la connexion, partagé avec la ligne de progression
(extensions/live_progress.py).

Fichiers lus (jamais écrits ni créés), tous dans ``{DATA}/evenements/`` :

- ``journal.state.json`` : ``applied`` (numéro du dernier événement appliqué), ``unsettled``
  (les conversations qui attendent leur relecture REST, un objet ; facultatif) et
  ``connection`` (``{"state": "connected"|"down", "since": "…ISO 8601…"}``, facultatif),
  tenus par le processus du direct ;
- le fichier du jour le plus récent, ``AAAA-MM-JJ.jsonl`` : sa dernière ligne lisible, champ
  ``received`` (heure de journalisation du dernier événement). Lu à rebours, par blocs : un
  journal du jour peut compter des millions de lignes.

Sans ``journal.state.json`` (le direct n'a jamais tourné), pas de ligne. Ce que dit
``connection`` est ce que le direct a noté en dernier : un direct tué brutalement peut y
avoir laissé « connecté ».
"""

from __future__ import annotations

import datetime
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path

from crispscrape.durations import duration
from crispscrape.storage.journal import DAY_FILE_SUFFIX, STATE_NAME
from crispscrape.storage.layout import ExportLayout

# Lignes essayées depuis la fin d'un fichier du jour (la dernière peut être coupée par un
# arrêt brutal) ; taille d'un bloc lu à rebours.
TAIL_LINES, BLOCK = 20, 64 * 1024


def plural(count: int, singular: str, several: str) -> str:
    """« 0 événement », « 1 événement », « 2 événements » (singulier en dessous de 2)."""
    return f"{count} {singular if count < 2 else several}"


def connection_text(connected: bool, since: float | None, now: float) -> str:
    """« connecté », « coupé depuis 42 s » (``since`` : heure en secondes depuis 1970)."""
    if connected:
        return "connecté"
    return f"coupé depuis {duration(now - since)}" if since is not None else "coupé"


def _epoch(text) -> float | None:
    """Secondes depuis 1970 d'une date ISO 8601 (sans fuseau : UTC) ; None si illisible."""
    if not isinstance(text, str):
        return None
    try:
        moment = datetime.datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def _lines_backwards(path: Path) -> Iterator[bytes]:
    """Les lignes non vides d'un fichier, de la dernière à la première, lues par blocs."""
    with open(path, "rb") as handle:
        end = handle.seek(0, os.SEEK_END)
        head = b""
        while end > 0:
            start = max(0, end - BLOCK)
            handle.seek(start)
            lines = (handle.read(end - start) + head).split(b"\n")
            end, head = start, lines[0]  # début de ligne peut-être incomplet : gardé
            yield from (line for line in reversed(lines[1:]) if line.strip())
        if head.strip():
            yield head


def last_received(journal_dir: Path) -> float | None:
    """Heure (secondes depuis 1970) du dernier événement journalisé, d'après la dernière ligne
    lisible du fichier du jour le plus récent ; None s'il n'y en a pas."""
    try:
        days = sorted((p for p in journal_dir.iterdir() if p.suffix == DAY_FILE_SUFFIX
                       and len(p.stem) == 10), reverse=True)
    except OSError:
        return None
    for path in days:
        try:
            for raw in islice(_lines_backwards(path), TAIL_LINES):
                try:
                    record = json.loads(raw)
                except ValueError:
                    continue
                received = _epoch(record.get("received")) if isinstance(record, dict) else None
                if received is not None:
                    return received
        except OSError:
            continue
    return None


@dataclass
class LiveStatus:
    applied: int = 0
    # None : absent de l'état (pas encore tenu par le direct).
    unsettled: int | None = None
    # « connected », « down » ou None (absent) ; heure du changement (secondes depuis 1970).
    connection: str | None = None
    since: float | None = None
    last_event: float | None = None

    @classmethod
    def read(cls, data_dir: Path) -> LiveStatus | None:
        """L'état du direct d'après ses fichiers ; None si le direct n'a jamais tourné."""
        journal_dir = ExportLayout(data_dir).journal_dir
        try:
            state = json.loads((journal_dir / STATE_NAME).read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            state = {}
        state = state if isinstance(state, dict) else {}
        status = cls(last_event=last_received(journal_dir))
        applied = state.get("applied")
        status.applied = applied if isinstance(applied, int) and applied > 0 else 0
        unsettled = state.get("unsettled")
        if isinstance(unsettled, (dict, list)):
            status.unsettled = len(unsettled)
        connection = state.get("connection")
        if isinstance(connection, dict) and connection.get("state") in ("connected", "down"):
            status.connection = connection["state"]
            status.since = _epoch(connection.get("since"))
        return status

    def line(self, now: float | None = None) -> str:
        """« Direct : 12 événements appliqués, 2 conversations à régler, connecté depuis
        3 min 05 s, dernier événement journalisé il y a 4 s. »"""
        now = time.time() if now is None else now
        parts = [plural(self.applied, "événement appliqué", "événements appliqués")]
        if self.unsettled is not None:
            parts.append(plural(self.unsettled, "conversation à régler",
                                "conversations à régler"))
        if self.connection == "connected":
            parts.append("connecté" + (f" depuis {duration(now - self.since)}"
                                       if self.since is not None else ""))
        elif self.connection == "down":
            parts.append(connection_text(False, self.since, now))
        parts.append(f"dernier événement journalisé il y a {duration(now - self.last_event)}"
                     if self.last_event is not None else "aucun événement journalisé")
        return "Direct : " + ", ".join(parts) + "."
