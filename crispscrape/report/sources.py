"""Les fichiers de l'export que lit la base d'analyse, et l'état de l'export lui-même.

Mêmes chemins que ceux qu'écrivent les exports (README, « Fichiers produits ») ; l'index
des pièces jointes (``conversations/fichiers.jsonl``) est lu s'il existe.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from crispscrape.status import AccountStatus
from crispscrape.storage.file_index import Entry, abandoned, read_failures
from crispscrape.storage.files import StorageError
from crispscrape.storage.layout import ExportLayout


@dataclass(frozen=True)
class Sources:
    data_dir: Path

    @property
    def conversations(self) -> Path:
        return ExportLayout(self.data_dir).listing

    @property
    def messages_dir(self) -> Path:
        return ExportLayout(self.data_dir).messages_dir

    @property
    def users(self) -> Path:
        return ExportLayout(self.data_dir).users

    @property
    def files_index(self) -> Path:
        return ExportLayout(self.data_dir).files_index

    def message_files(self) -> list[str]:
        """Chemins des fichiers de messages ({session_id}.jsonl), triés."""
        try:
            with os.scandir(self.messages_dir) as entries:
                return sorted(entry.path for entry in entries
                              if entry.name.endswith(".jsonl") and not entry.name.startswith(".")
                              and entry.is_file())
        except OSError:
            return []

    def found(self) -> bool:
        # os.path.isfile : un chemin trop long ou refusé compte pour absent (pas de trace).
        return os.path.isfile(self.conversations) or bool(self.message_files())


@dataclass
class ExportState:
    """L'état de l'export pour le rapport : complet ou non, et à quelle date."""

    complete: bool
    # Dernière écriture d'un fichier de l'export (fichiers de données et d'état), en UTC.
    as_of: datetime | None
    lines: list[str] = field(default_factory=list)
    remaining: str = ""
    # Pièces jointes en échec ou abandonnées, en français (AccountStatus.files_text : les
    # mots de ``scrapy status``), vide s'il n'y en a pas.
    files: str = ""
    # Pièces jointes de l'index qui ne sont pas sur le disque, et si chacune est abandonnée.
    failures: list[tuple[Entry, bool]] = field(default_factory=list)
    max_attempts: int = 3

    @classmethod
    def read(cls, sources: Sources, settings) -> ExportState:
        status = AccountStatus.from_settings(sources.data_dir, settings)
        max_attempts = status.files_max_attempts
        try:
            failures = [(entry, abandoned(entry, max_attempts))
                        for entry in read_failures(sources.data_dir)]
        except StorageError:
            failures = []
        return cls(complete=status.complete, as_of=_last_write(sources),
                   lines=status.lines(None), remaining=status.remaining_text(),
                   files=status.files_text(),
                   failures=failures, max_attempts=max_attempts)


def _last_write(sources: Sources) -> datetime | None:
    layout = ExportLayout(sources.data_dir)
    candidates = [layout.listing, layout.listing_state, layout.messages_state, layout.users,
                  layout.users_state, layout.files_index]
    times = []
    for path in candidates:
        try:
            times.append(path.stat().st_mtime)
        except OSError:
            continue
    if not times:
        return None
    return datetime.fromtimestamp(max(times), tz=timezone.utc)
