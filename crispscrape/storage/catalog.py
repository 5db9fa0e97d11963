"""Magasin de la liste des systèmes « en avant » (Ninja, Wanzo) : relevée entière à chaque
exécution, réécrite d'un seul coup ; une conversation disparue garde sa ligne (docs/sources.md)."""

from __future__ import annotations

import logging
from pathlib import Path

from crispscrape.sources.base import MessageModel
from crispscrape.storage.files import atomic_write_lines, dumps_line
from crispscrape.storage.jsonl import read_lines
from crispscrape.storage.layout import ExportLayout
from crispscrape.storage.paths import StoreDirectory

logger = logging.getLogger(__name__)


class CatalogStore:
    def __init__(self, data_dir: Path, stats, model: MessageModel):
        self.model = model
        self.stats = stats
        layout = ExportLayout(Path(data_dir), model.folder, model.listing_name)
        self.directory = layout.listing_dir
        self.path = layout.listing
        # Identifiant -> objet, dans l'ordre du fichier puis de découverte.
        self.entries: dict[str, dict] = {}
        # Lignes illisibles ou sans identifiant : gardées telles quelles, à la fin.
        self.foreign: list[str] = []
        # Les conversations du fichier à l'ouverture (spiders/removals.py : leur absence seule
        # de la liste peut être vérifiée).
        self.loaded: set[str] = set()
        self.dir_lock = StoreDirectory(self.directory, f"export {model.folder}", logger)

    def open(self, reset: bool) -> None:
        self.dir_lock.claim(self._load, self.path)

    def _load(self) -> None:
        if not self.path.is_file():
            return
        for line in read_lines(self.path, "Fichier des conversations"):
            conversation_id = self.model.conversation_id(line.obj)
            if conversation_id is None:
                self.foreign.append(line.full)
            else:
                self.entries[conversation_id] = line.obj
        self.loaded = set(self.entries)
        if self.foreign:
            self.stats.inc_value("listing/kept_aside", len(self.foreign))
            logger.warning("%s : %d ligne(s) illisible(s) ou sans identifiant, gardée(s) telles "
                           "quelles en fin de fichier.", self.path.name, len(self.foreign))

    def add(self, conversations: list) -> tuple[list[dict], int]:
        """Objets reçus d'une page : (utilisables, nombre d'inutilisables)."""
        usable, invalid = [], 0
        for obj in conversations:
            conversation_id = self.model.conversation_id(obj)
            if conversation_id is None:
                invalid += 1
                continue
            previous = self.entries.get(conversation_id)
            if previous is None:
                self.stats.inc_value("listing/new")
            elif previous != obj:
                self.stats.inc_value("listing/updated")
            self.entries[conversation_id] = obj
            usable.append(obj)
        if invalid:
            self.stats.inc_value("listing/invalid", invalid)
        return usable, invalid

    def write(self) -> None:
        lines = [dumps_line(obj) for obj in self.entries.values()]
        atomic_write_lines(self.path, [*lines, *self.foreign])
        self.stats.set_value("listing/conversations", len(self.entries))

    def close(self) -> None:
        self.dir_lock.release()
