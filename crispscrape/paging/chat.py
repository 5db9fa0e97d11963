"""Pagination des systèmes « en avant » (Ninja, Wanzo) : liste des conversations et pages de
messages, en règles pures (sans entrée-sortie, testées seules dans tests/unit).

Liste : pages par ``limit``/``offset``. L'ordre d'une liste peut bouger pendant qu'on la
parcourt (Wanzo : la plus récemment mise à jour d'abord ; Ninja : ordre non garanti). Un
élément qui remonte en tête pendant le parcours décale les suivants : l'un d'eux est alors vu
deux fois ; une suppression change le total et peut en faire sauter un. Un parcours où l'on
a vu un doublon, un total changeant ou moins d'éléments que le total est donc refait (au plus
``max_passes`` fois) : sans mouvement, aucun appel de plus que le minimum.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ChatListWalk:
    """Où en est le parcours de la liste des conversations pendant cette exécution."""

    limit: int
    max_passes: int = 3
    offset: int = 0
    passes: int = 1
    total: int | None = None
    total_changed: bool = False
    seen_in_pass: set = field(default_factory=set)
    duplicates: int = 0
    # Tous les identifiants vus dans cette exécution (tous parcours confondus).
    seen: set = field(default_factory=set)

    def page(self, ids: list[str], total: int | None) -> int | None:
        """Note une page reçue ; renvoie l'offset de la page suivante, ou None (liste finie)."""
        if total is not None:
            if self.total is not None and total != self.total:
                self.total_changed = True
            self.total = total
        for conversation_id in ids:
            if conversation_id in self.seen_in_pass:
                self.duplicates += 1
            self.seen_in_pass.add(conversation_id)
            self.seen.add(conversation_id)
        self.offset += len(ids)
        more = bool(ids) and (len(ids) >= self.limit if total is None else self.offset < total)
        if more:
            return self.offset
        if self.moved() and self.passes < self.max_passes:
            # La liste a bougé pendant le parcours : un second parcours rattrape ce qui a pu
            # être sauté (les doublons sont fusionnés par le magasin de la liste).
            self.passes += 1
            self.offset, self.total_changed, self.duplicates = 0, False, 0
            self.seen_in_pass = set()
            return 0
        return None

    def moved(self) -> bool:
        short = self.total is not None and len(self.seen) < self.total
        return self.duplicates > 0 or self.total_changed or short

    def complete(self) -> bool:
        """Faux si la liste bougeait encore au dernier parcours permis."""
        return not self.moved()
