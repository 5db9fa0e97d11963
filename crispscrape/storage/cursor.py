"""État de reprise de l'export des messages, ``messages/messages.jsonl.state.json`` : ses champs
et sa compatibilité avec le mess.py d'origine, docs/messages.md ; ``done`` en mémoire compacte,
paging/done.py ; l'avance du curseur pendant une exécution, paging/cursor.py."""

from __future__ import annotations

from itertools import chain
from pathlib import Path

from crispscrape.paging.done import ENCODER, DoneMarks, parse_state
from crispscrape.storage.files import StateFile, StorageError, atomic_write_lines

FORMAT = 2


class MessagesState:
    def __init__(self, path: Path):
        self.state = StateFile(path, "Fichier d'état des messages")
        self.next_index = 0
        self.next_session_id: str | None = None
        self.incomplete: dict[str, int | None] = {}
        self.done = DoneMarks()
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
            raise StorageError(f"Fichier d'état des messages inattendu ({self.state.path}) : « next_index » "
                               "doit être un entier positif, « incomplete » et « done » des objets. Il n'a pas "
                               "été modifié ; relancez avec -a reset=1 pour repartir de la première conversation.")
        return data

    def mark_incomplete(self, session_id: str, oldest: int | None) -> None:
        """À noter AVANT d'écrire un fichier partiel : l'inverse pourrait le faire croire complet.
        Écrit tout de suite, jamais différé."""
        self.incomplete[session_id] = oldest
        self.save()

    def save(self) -> None:
        """Remplace l'état d'un coup (écriture atomique), écrit par morceaux : ni tout l'état
        en une seule chaîne, ni une liste par conversation (voir paging/done.py)."""
        self.before_save()
        head = ENCODER.encode({"format": FORMAT, "next_index": self.next_index,
                               "next_session_id": self.next_session_id, "incomplete": self.incomplete})
        atomic_write_lines(self.state.path, chain([head[:-1] + ',"done":'], self.done.json_chunks(), ["}\n"]))
        self.dirty = False
