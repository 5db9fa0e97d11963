"""Ce que le magasin des messages sait d'une conversation pendant une exécution.

``OpenConversation`` : son fichier lu et ce qui arrive (possédé par le magasin) ; ``Known`` :
la vue en lecture seule qu'en ont l'araignée et le dédoublonnage ; ``Finished`` : le bilan
d'une conversation refermée.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from crispscrape.sources.base import MessageModel
from crispscrape.storage.files import dumps_line


@dataclass
class OpenConversation:
    """Le fichier d'une conversation en cours d'export : ce qu'il contient, ce qui arrive."""

    session_id: str
    # Chemin en simple chaîne (voir files.atomic_write_lines : pas de pathlib par conversation).
    path: str
    rank: int | None
    exists: bool = False
    # Messages du fichier, par clé (fingerprint chez Crisp), tels quels.
    stored: dict[Any, dict] = field(default_factory=dict)
    # Lignes du fichier sans clé exploitable : conservées telles quelles.
    foreign: list[dict] = field(default_factory=list)
    # Lignes illisibles (tronquées par un outil tiers) : mises de côté, jamais perdues.
    unreadable: list[str] = field(default_factory=list)
    # Messages nouveaux ou modifiés reçus dans cette exécution, par clé.
    pending: dict[Any, dict] = field(default_factory=dict)
    # Vrai quand les messages reçus rejoignent ceux du fichier (ou qu'il n'y avait pas de
    # fichier) : un fichier partiel écrit à ce moment reste d'un seul tenant, sans trou.
    connected: bool = False
    # Messages retirés : absents d'une relecture complète (supprimés chez Crisp).
    dropped: int = 0
    new_count: int = 0
    updated_count: int = 0
    ignored_count: int = 0

    @property
    def oldest_stored(self) -> int | None:
        timestamps = [m["timestamp"] for m in self.stored.values()
                      if isinstance(m.get("timestamp"), int)]
        return min(timestamps) if timestamps else None

    def merged_lines(self, model: MessageModel) -> list[str]:
        ordered = model.arrange(self.stored, self.pending, self.foreign)
        return [dumps_line(message) for message in ordered]


@dataclass(frozen=True)
class Known:
    """Vue en lecture seule d'une conversation ouverte (pour l'araignée et le dédoublonnage)."""

    exists: bool
    # Vrai si le fichier est réputé complet : ni noté incomplet, ni abîmé.
    complete_file: bool
    unreadable: bool
    oldest_stored: int | None
    stored: Mapping[Any, dict]
    received: Mapping[Any, dict]


@dataclass
class Finished:
    """Bilan d'une conversation refermée (pour le journal et les statistiques)."""

    session_id: str
    why: str
    complete: bool
    # Faux si aucune réponse exploitable n'était arrivée (rien à écrire, rien à compter).
    opened: bool = True
    new: int = 0
    updated: int = 0
    ignored: int = 0
    # Messages du fichier écrit (None : pas de fichier écrit ni relu).
    total: int | None = None
