"""Items produits par les araignées : un item par réponse de l'API.

Un message reste l'objet exact renvoyé par l'API : aucun champ n'est ajouté, retiré ni
renommé. Les champs autres que ``messages`` disent aux pipelines ce que la réponse signifie
(fin de la conversation ou non) et leur servent à noter ce qu'ils en ont fait.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class MessageBatch:
    """Un lot de messages d'une conversation (une réponse), ou sa fin anormale (sans messages).

    ``end`` : None si la pagination continue (``next_before`` dit où), sinon pourquoi la
    conversation s'arrête là. ``complete`` : vrai si tous ses messages, jusqu'au premier,
    sont alors connus.
    """

    session_id: str
    # Rang de la conversation dans la sélection du curseur (None : reprise d'une incomplète).
    rank: int | None
    messages: list[dict] = field(default_factory=list)
    end: str | None = None
    complete: bool = False
    next_before: int | None = None
    # Rempli par le pipeline de déduplication.
    reached_stored: bool = False
    new: int = 0
    updated: int = 0
    ignored: int = 0

    def __repr__(self) -> str:
        # Scrapy journalise l'item : pas une conversation entière dans le journal.
        return (f"MessageBatch({self.session_id}, {len(self.messages)} messages, "
                f"fin={self.end!r})")
