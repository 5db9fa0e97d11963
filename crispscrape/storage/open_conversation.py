"""Une conversation ouverte par le magasin des messages (storage/messages.py) : ce que son
fichier contient et ce qui arrive, jusqu'à ce qu'il soit écrit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from crispscrape.sources.base import MessageModel
from crispscrape.storage.files import dumps_line


@dataclass
class OpenConversation:
    """Le fichier d'une conversation en cours d'export : ce qu'il contient, ce qui arrive."""

    session_id: str
    path: str  # une chaîne, pas un Path (voir files.atomic_write_lines)
    rank: int | None
    exists: bool = False
    # Messages du fichier par clé ; lignes sans clé, gardées telles quelles ; lignes
    # illisibles (tronquées par un outil tiers), mises de côté, jamais perdues.
    stored: dict[Any, dict] = field(default_factory=dict)
    foreign: list[dict] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)
    # Messages nouveaux ou modifiés reçus dans cette exécution, par clé.
    pending: dict[Any, dict] = field(default_factory=dict)
    # Vrai quand les messages reçus rejoignent ceux du fichier (ou qu'il n'y avait pas de
    # fichier) : un fichier partiel écrit à ce moment reste d'un seul tenant, sans trou.
    connected: bool = False
    dropped: int = 0  # absents d'une relecture complète : supprimés chez Crisp
    new_count: int = 0
    updated_count: int = 0
    ignored_count: int = 0

    def merged_lines(self, model: MessageModel) -> list[str]:
        return [dumps_line(message) for message in model.arrange(self.stored, self.pending, self.foreign)]
