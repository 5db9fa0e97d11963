"""Le curseur de l'export des messages pendant une exécution : quelles conversations la
sélection (``selection.py``) a choisies, et jusqu'où l'état enregistré peut avancer.

Avec plusieurs conversations en cours, le curseur est la « marée basse » : il n'avance au
delà d'une conversation qu'une fois son fichier écrit sur disque (ou son interruption notée).
L'état lui-même (lecture, écriture) : storage/cursor.py.
"""

from __future__ import annotations

from pathlib import Path

from crispscrape.storage.cursor import MessagesState


class MessagesCursor(MessagesState):
    def __init__(self, path: Path):
        super().__init__(path)
        # Empreinte de chaque conversation choisie, notée dans ``done`` quand elle est finie.
        self._expected: dict[str, str | None] = {}
        # Conversations choisies par le curseur dans cette exécution, par rang.
        self._tracked: dict[int, tuple[int, str]] = {}
        self._settled: set[int] = set()
        self._low = 0
        self._selected = 0
        self._after: tuple[int, str | None] | None = None

    def track(self, rank: int, index: int, session_id: str) -> None:
        self._tracked[rank] = (index, session_id)
        self._selected = max(self._selected, rank + 1)

    def expect(self, session_id: str, marker: str | None) -> None:
        """Conversation choisie : son empreinte sera notée dans ``done`` si elle finit complète."""
        self._expected[session_id] = marker

    def in_flight(self, session_id: str) -> bool:
        """Choisie dans cette exécution et pas encore finie."""
        return session_id in self._expected

    def selection_done(self, next_index: int, next_session_id: str | None) -> None:
        """Position qui suit la dernière conversation choisie (après un tour complet, 0)."""
        self._after = (next_index, next_session_id)
        self._advance()

    def settle(self, rank: int | None, session_id: str, complete: bool,
               size: int | None = None, record: bool = True) -> None:
        """Le fichier de la conversation est sur disque (``size`` octets, None sans fichier) :
        le curseur peut la dépasser."""
        marker = self._expected.pop(session_id, None)
        if complete:
            self.incomplete.pop(session_id, None)
            if marker is not None and record:
                self.done.set(session_id, marker, size)
        if rank is not None:
            self._settled.add(rank)
            self._advance()
        # Écrit plus tard, par lots (MessageStore.flush) : un fichier complet que l'état ne
        # connaît pas encore est seulement revérifié après un arrêt brutal.
        self.dirty = True

    def pass_over(self, rank: int) -> None:
        """Ligne déjà traitée ailleurs dans cette exécution (doublon, incomplète reprise) : le
        curseur peut la dépasser, sans rien changer à ce que l'état dit de la conversation."""
        self._settled.add(rank)
        self._advance()
        self.dirty = True

    def _advance(self) -> None:
        passed = None
        while self._low in self._settled:
            # Derrière la marée basse, plus rien n'est utile : la mémoire reste bornée.
            self._settled.discard(self._low)
            passed = self._tracked.pop(self._low)
            self._low += 1
        if self._low in self._tracked:
            self.next_index, self.next_session_id = self._tracked[self._low]
        elif self._after is not None and self._low == self._selected:
            self.next_index, self.next_session_id = self._after
        elif passed is not None:
            # Tout ce qui a été choisi est fait, la suite n'est pas encore lue.
            self.next_index, self.next_session_id = passed[0] + 1, None
