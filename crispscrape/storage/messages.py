"""Fichiers de messages d'une conversation : ``conversations/messages/{session_id}.jsonl``.

Un ``SessionRecord`` est ouvert quand la première réponse d'une conversation arrive et
fermé dès que son fichier est écrit : la mémoire ne dépend que des conversations en cours,
jamais de la taille du compte. Les trois étapes le partagent : l'araignée y lit ce qui est
déjà connu (pour savoir quand s'arrêter), le pipeline de déduplication y écarte les
messages connus, le pipeline d'écriture y accumule les nouveaux puis écrit le tout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from crispscrape.model import message_order
from crispscrape.storage.files import (
    StorageError, append_lines, atomic_write_lines, dumps_line, iter_jsonl,
)

logger = logging.getLogger(__name__)


@dataclass
class SessionRecord:
    session_id: str
    path: Path
    # Position de la conversation dans la sélection de cette exécution (pour le curseur).
    position: int
    exists: bool = False
    # Messages du fichier, par fingerprint, tels quels.
    stored: dict[int, dict] = field(default_factory=dict)
    # Lignes du fichier sans fingerprint exploitable : conservées telles quelles.
    foreign: list[dict] = field(default_factory=list)
    # Lignes illisibles (tronquées par un outil tiers) : mises de côté, jamais perdues.
    unreadable: list[str] = field(default_factory=list)
    # Messages nouveaux ou modifiés reçus dans cette exécution, par fingerprint.
    pending: dict[int, dict] = field(default_factory=dict)
    # Vrai quand les messages reçus rejoignent ceux du fichier (ou qu'il n'y avait pas de
    # fichier) : un fichier partiel écrit à ce moment reste d'un seul tenant, sans trou.
    connected: bool = False
    new_count: int = 0
    updated_count: int = 0
    ignored_count: int = 0

    @property
    def oldest_stored(self) -> int | None:
        timestamps = [m["timestamp"] for m in self.stored.values()
                      if isinstance(m.get("timestamp"), int)]
        return min(timestamps) if timestamps else None

    @property
    def changed(self) -> bool:
        return bool(self.pending) or not self.exists or bool(self.unreadable)

    def merged_lines(self) -> list[str]:
        messages = {**self.stored, **self.pending}
        ordered = sorted([*messages.values(), *self.foreign], key=message_order, reverse=True)
        return [dumps_line(message) for message in ordered]


class MessageArchive:
    """Les fichiers de messages d'un export, et les conversations ouvertes en ce moment."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self.records: dict[str, SessionRecord] = {}

    def path(self, session_id: str) -> Path:
        return self.directory / f"{session_id}.jsonl"

    def open(self, session_id: str, position: int) -> SessionRecord:
        """Ouvre (et lit une seule fois) le fichier d'une conversation."""
        record = self.records.get(session_id)
        if record is None:
            record = self._load(session_id, position)
            self.records[session_id] = record
        return record

    def get(self, session_id: str) -> SessionRecord:
        return self.records[session_id]

    def close(self, session_id: str) -> None:
        self.records.pop(session_id, None)

    def write(self, record: SessionRecord) -> None:
        """Remplace le fichier par son contenu complet fusionné et trié, d'un seul coup."""
        if record.unreadable:
            # Rien ne se perd : les lignes illisibles sont gardées à côté, pour examen.
            aside = record.path.with_name(record.path.name + ".lignes-illisibles")
            append_lines(aside, [line if line.endswith("\n") else line + "\n"
                                 for line in record.unreadable])
            logger.warning("%s : %d ligne(s) illisible(s) mise(s) de côté dans %s.",
                           record.path.name, len(record.unreadable), aside.name)
        atomic_write_lines(record.path, record.merged_lines())

    def count_files(self) -> int:
        if not self.directory.is_dir():
            return 0
        return sum(1 for path in self.directory.glob("*.jsonl") if path.is_file())

    def _load(self, session_id: str, position: int) -> SessionRecord:
        path = self.path(session_id)
        record = SessionRecord(session_id, path, position)
        if not path.exists():
            return record
        if not path.is_file():
            raise StorageError(f"{path} n'est pas un fichier : la conversation {session_id} ne "
                               "peut pas être exportée. Déplacez-le puis relancez.")
        record.exists = True
        try:
            lines = list(iter_jsonl(path))
        except OSError as exc:
            raise StorageError(f"{path} illisible : {exc.strerror}.") from exc
        for number, message, raw in lines:
            if not isinstance(message, dict):
                logger.warning("%s, ligne %d illisible (tronquée ?) : la conversation sera "
                               "reprise depuis le début pour la compléter.", path.name, number)
                record.unreadable.append(raw)
            elif isinstance(message.get("fingerprint"), int):
                record.stored[message["fingerprint"]] = message
            else:
                record.foreign.append(message)
        return record
