"""État de reprise de l'export des messages : ``conversations/messages/messages.jsonl.state.json``.

Contenu (compatible avec le mess.py d'origine, qui n'écrivait que ``next_index``) :

- ``next_index`` : position, dans conversations.jsonl, de la prochaine conversation à
  traiter (parmi les lignes utilisables) ; ``next_session_id`` : son identifiant, pour
  la retrouver si conversations.jsonl a été retrié entre deux exécutions ;
- ``incomplete`` : {session_id: plus ancien timestamp du fichier} des conversations dont
  le fichier existe mais ne remonte pas encore jusqu'au premier message (pagination
  interrompue par le quota, un arrêt ou un échec). Elles sont reprises en premier.

Avec plusieurs conversations en cours, le curseur est la « marée basse » : il n'avance au
delà d'une conversation qu'une fois son fichier écrit sur disque (ou son interruption notée).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

from crispscrape.model import session_id_of, unwrap
from crispscrape.storage.files import StorageError, safe_name
from crispscrape.storage.jsonl import read_lines
from crispscrape.storage.state import StateFile

logger = logging.getLogger(__name__)


class MessagesCursor:
    def __init__(self, path: Path):
        self.state = StateFile(path, "Fichier d'état des messages")
        self.next_index = 0
        self.next_session_id: str | None = None
        self.incomplete: dict[str, int | None] = {}
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
        index, incomplete = data.get("next_index", 0), data.get("incomplete", {})
        self.incomplete = incomplete
        if reset:
            # reset oublie le curseur, jamais les conversations incomplètes : les oublier
            # ferait passer leurs fichiers partiels pour complets.
            return
        self.next_index = index
        session_id = data.get("next_session_id")
        self.next_session_id = session_id if isinstance(session_id, str) else None

    def _recover(self) -> None:
        """reset=1 sur un état illisible : mis de côté, et tous les fichiers existants
        sont revérifiés jusqu'au premier message (on ne sait plus lesquels sont partiels)."""
        aside = self.state.path.with_name(self.state.path.name + ".illisible")
        if self.state.path.is_file():
            self.state.path.replace(aside)
        directory = self.state.path.parent
        self.incomplete = {p.stem: None for p in directory.glob("*.jsonl") if p.is_file()}

    def _read(self) -> dict:
        data = self.state.load()
        index = data.get("next_index", 0)
        incomplete = data.get("incomplete", {})
        if not isinstance(index, int) or index < 0 or not isinstance(incomplete, dict):
            raise StorageError(
                f"Fichier d'état des messages inattendu ({self.state.path}) : « next_index » "
                "doit être un entier positif et « incomplete » un objet. Il n'a pas été modifié ; "
                "relancez avec -a reset=1 pour repartir de la première conversation."
            )
        return data

    # --- Sélection de cette exécution --------------------------------------------
    def track(self, rank: int, index: int, session_id: str) -> None:
        self._tracked[rank] = (index, session_id)
        self._selected = max(self._selected, rank + 1)

    def selection_done(self, next_index: int, next_session_id: str | None) -> None:
        """Position qui suit la dernière conversation choisie (après un tour complet, 0)."""
        self._after = (next_index, next_session_id)
        self._advance()

    # --- Choix des conversations -----------------------------------------------------
    def plan(self, conversations_path: Path, nb: int, stats) -> Iterator[tuple[int | None, str]]:
        """(rang, session_id) à exporter : d'abord les incomplètes, puis à partir du curseur,
        en boucle. Rang None : reprise d'une incomplète (hors du curseur)."""
        chosen: set[str] = set()
        for session_id in list(self.incomplete):
            if len(chosen) >= nb:
                return
            if safe_name(session_id):
                chosen.add(session_id)
                yield None, session_id
        start = self._start_index(conversations_path, stats)
        first_pass = ((i, s) for i, s in self._usable(conversations_path, stats, report=True) if i >= start)
        second_pass = ((i, s) for i, s in self._usable(conversations_path, stats, report=False) if i < start)
        rank = 0
        for index, session_id in chain(first_pass, second_pass):
            if len(chosen) >= nb:
                self.selection_done(index, session_id)
                return
            self.track(rank, index, session_id)
            if session_id in chosen:
                # Ligne en double, ou conversation déjà reprise plus haut : rien à refaire.
                stats.inc_value("messages/ignored_duplicate_lines")
                self.settle(rank, session_id, complete=session_id not in self.incomplete)
            else:
                chosen.add(session_id)
                yield rank, session_id
            rank += 1
        if not rank and not chosen:
            logger.warning("%s ne contient aucune conversation utilisable : rien à exporter.",
                           conversations_path)
        # Tout le fichier a été parcouru : la prochaine exécution repart d'où celle-ci a commencé.
        self.selection_done(start if rank else 0, None)

    @staticmethod
    def _usable(conversations_path: Path, stats, report: bool) -> Iterator[tuple[int, str]]:
        """(index, session_id) des lignes utilisables de conversations.jsonl, en flux."""
        index = 0
        for line in read_lines(conversations_path, "Fichier des conversations"):
            session_id = session_id_of(unwrap(line.obj))
            if session_id is None:
                if report:
                    stats.inc_value("messages/ignored_invalid_lines")
                    logger.warning("conversations.jsonl, ligne %d ignorée : JSON illisible ou "
                                   "sans session_id utilisable.", line.number)
                continue
            if safe_name(session_id) is None:
                if report:
                    stats.inc_value("messages/ignored_unsafe_ids")
                    logger.warning("conversations.jsonl, ligne %d ignorée : session_id %r ne "
                                   "peut pas servir de nom de fichier.", line.number,
                                   session_id[:80])
                continue
            yield index, session_id
            index += 1

    def _start_index(self, conversations_path: Path, stats) -> int:
        """Position du curseur, retrouvée par session_id si le fichier a été retrié."""
        wanted, saved = self.next_session_id, self.next_index
        if not wanted:
            return saved
        found = [index for index, session_id in self._usable(conversations_path, stats, report=False) if session_id == wanted]
        if not found or saved in found:
            return saved
        # Fichier retrié : l'occurrence la plus proche de la position notée (doublons).
        return min(found, key=lambda index: abs(index - saved))

    # --- Progrès ------------------------------------------------------------------
    def mark_incomplete(self, session_id: str, oldest: int | None) -> None:
        """À noter AVANT d'écrire un fichier partiel : l'inverse pourrait le faire croire complet.
        Écrit tout de suite, jamais différé."""
        self.incomplete[session_id] = oldest
        self.save()

    def settle(self, rank: int | None, session_id: str, complete: bool) -> None:
        """Le fichier de la conversation est sur disque : le curseur peut la dépasser."""
        if complete:
            self.incomplete.pop(session_id, None)
        if rank is not None:
            self._settled.add(rank)
            self._advance()
        # Écrit plus tard, par lots (MessageStore.flush) : un fichier complet que l'état ne
        # connaît pas encore est seulement revérifié après un arrêt brutal.
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
        self.before_save()
        self.state.data = {
            "next_index": self.next_index,
            "next_session_id": self.next_session_id,
            "incomplete": self.incomplete,
        }
        self.state.save()
        self.dirty = False
