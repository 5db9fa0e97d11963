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


@dataclass(frozen=True)
class Sources:
    data_dir: Path

    @property
    def conversations(self) -> Path:
        return self.data_dir / "conversations" / "conversations.jsonl"

    @property
    def messages_dir(self) -> Path:
        return self.data_dir / "conversations" / "messages"

    @property
    def users(self) -> Path:
        return self.data_dir / "utilisateurs" / "utilisateurs.jsonl"

    @property
    def files_index(self) -> Path:
        return self.data_dir / "conversations" / "fichiers.jsonl"

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
        return self.conversations.is_file() or bool(self.message_files())


@dataclass
class ExportState:
    """L'état de l'export pour le rapport : complet ou non, et à quelle date."""

    complete: bool
    # Dernière écriture d'un fichier de l'export (fichiers de données et d'état), en UTC.
    as_of: datetime | None
    lines: list[str] = field(default_factory=list)
    remaining: str = ""

    @classmethod
    def read(cls, sources: Sources, settings) -> ExportState:
        status = AccountStatus.from_settings(sources.data_dir, settings)
        return cls(complete=status.complete, as_of=_last_write(sources),
                   lines=status.lines(None), remaining=status.remaining_text())


def _last_write(sources: Sources) -> datetime | None:
    candidates = [sources.conversations, Path(f"{sources.conversations}.state.json"),
                  sources.messages_dir / "messages.jsonl.state.json", sources.users,
                  Path(f"{sources.users}.state.json"), sources.files_index]
    times = []
    for path in candidates:
        try:
            times.append(path.stat().st_mtime)
        except OSError:
            continue
    if not times:
        return None
    return datetime.fromtimestamp(max(times), tz=timezone.utc)
