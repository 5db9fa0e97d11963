"""État de reprise de l'export des messages : ``conversations/messages/messages.jsonl.state.json``
(rôle de chaque champ : docs/messages.md). Compatible avec le mess.py d'origine, qui n'écrivait
que ``next_index`` ; ``done`` manque aux états plus anciens (tout est alors revérifié une fois).

- ``next_index``, ``next_session_id`` : prochaine conversation (rang parmi les lignes
  utilisables de conversations.jsonl ; identifiant, pour la retrouver après un nouveau tri) ;
- ``incomplete`` : {session_id: plus ancien timestamp du fichier}, reprises en premier ;
- ``done`` : {session_id: [empreinte d'activité, taille du fichier (None sans fichier, 404)]}
  des conversations complétées ; la taille change si le fichier est abîmé ou effacé hors de
  l'export. En mémoire compacte : ``done.py``.

Avec plusieurs conversations en cours, le curseur est la « marée basse » : il n'avance au
delà d'une conversation qu'une fois son fichier écrit sur disque (ou son interruption notée).
"""

from __future__ import annotations

from itertools import chain
from pathlib import Path

from crispscrape.storage.done import ENCODER, DoneMarks, parse_state
from crispscrape.storage.files import StateFile, StorageError, atomic_write_lines

FORMAT = 2


class MessagesCursor:
    def __init__(self, path: Path):
        self.state = StateFile(path, "Fichier d'état des messages")
        self.next_index = 0
        self.next_session_id: str | None = None
        self.incomplete: dict[str, int | None] = {}
        self.done = DoneMarks()
        # Empreinte de chaque conversation choisie, notée dans ``done`` quand elle est finie.
        self._expected: dict[str, str | None] = {}
        # Conversations choisies par le curseur dans cette exécution, par rang.
        self._tracked: dict[int, tuple[int, str]] = {}
        self._settled: set[int] = set()
        self._low = 0
        self._selected = 0
        self._after: tuple[int, str | None] | None = None
        # Vrai si l'état en mémoire a avancé depuis la dernière écriture (voir save()).
        self.dirty = False
        # Appelé avant chaque écriture de l'état : le magasin y synchronise le répertoire des
        # fichiers que l'état décrit, pour que l'état ne les devance jamais.
        self.before_save = lambda: None

    def load(self, reset: bool) -> None:
        try:
            data = self._read()
        except StorageError:
            if not reset:
                raise
            self._recover()
            return
        self.incomplete = data.get("incomplete", {})
        if reset:
            # reset oublie le curseur et les empreintes (tout est revérifié), jamais les
            # conversations incomplètes : les oublier ferait passer leurs fichiers partiels
            # pour complets.
            return
        self.done = data.get("done") or DoneMarks()
        self.next_index = data.get("next_index", 0)
        session_id = data.get("next_session_id")
        self.next_session_id = session_id if isinstance(session_id, str) else None

    def _recover(self) -> None:
        """reset=1 sur un état illisible : mis de côté, et tous les fichiers existants
        sont revérifiés jusqu'au premier message (on ne sait plus lesquels sont partiels)."""
        path = self.state.path
        if path.is_file():
            path.replace(path.with_name(path.name + ".illisible"))
        self.incomplete = {p.stem: None for p in path.parent.glob("*.jsonl") if p.is_file()}

    def _read(self) -> dict:
        data = self.state.read(parse=parse_state)
        index = data.get("next_index", 0)
        incomplete = data.get("incomplete", {})
        done = data.get("done", DoneMarks())
        if not isinstance(index, int) or index < 0 or not isinstance(incomplete, dict) \
                or not isinstance(done, DoneMarks):
            raise StorageError(
                f"Fichier d'état des messages inattendu ({self.state.path}) : « next_index » "
                "doit être un entier positif, « incomplete » et « done » des objets. Il n'a pas "
                "été modifié ; relancez avec -a reset=1 pour repartir de la première conversation."
            )
        return data

    # --- Sélection de cette exécution --------------------------------------------
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

    # --- Progrès ------------------------------------------------------------------
    def mark_incomplete(self, session_id: str, oldest: int | None) -> None:
        """À noter AVANT d'écrire un fichier partiel : l'inverse pourrait le faire croire complet.
        Écrit tout de suite, jamais différé."""
        self.incomplete[session_id] = oldest
        self.save()

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

    def save(self) -> None:
        """Remplace l'état d'un coup (écriture atomique), écrit par morceaux : ni tout l'état
        en une seule chaîne, ni une liste par conversation (voir done.py)."""
        self.before_save()
        head = ENCODER.encode({
            "format": FORMAT,
            "next_index": self.next_index,
            "next_session_id": self.next_session_id,
            "incomplete": self.incomplete,
        })
        atomic_write_lines(self.state.path, chain([head[:-1] + ',"done":'],
                                                  self.done.json_chunks(), ["}\n"]))
        self.dirty = False
