"""Magasin de l'export des conversations : ``conversations/conversations.jsonl`` et son état.

Le fichier : une conversation par ligne, telle que renvoyée par l'API, unique par
``session_id``, triée à la fin de chaque exécution par dernière activité décroissante. Les
nouvelles y sont AJOUTÉES page par page (un arrêt brutal ne perd au pire que la page en
cours) ; une mise à jour remplace son ancienne ligne : le fichier est alors réécrit d'un coup.
Toujours dans cet ordre : la page dans le fichier, PUIS l'état du parcours (``listing.py``),
que l'araignée fait avancer une fois la page passée.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from crispscrape.model import activity_of, conversation_order, session_id_of, unwrap, version_of
from crispscrape.oserrors import os_reason
from crispscrape.paging.conversations import ListingPosition
from crispscrape.storage.files import StorageError, append_lines, dumps_line
from crispscrape.storage.jsonl import KeyedFile, read_lines
from crispscrape.storage.layout import ExportLayout
from crispscrape.storage.listing import ListingCursor
from crispscrape.storage.paths import StoreDirectory

logger = logging.getLogger(__name__)


@dataclass
class StoredConversation:
    version: tuple[int, int]
    activity: int | None
    text: str  # ligne JSONL normalisée (objet nu, saut de ligne final)

    @classmethod
    def of(cls, conversation: dict) -> StoredConversation:
        return cls(version_of(conversation), activity_of(conversation), dumps_line(conversation))


class ConversationsFile(KeyedFile):
    """conversations.jsonl en mémoire (une ligne par session_id) ; en double, la version la
    plus récente reste."""

    what = "Fichier des conversations"
    stat_prefix = "conversations"
    missing_key = "sans session_id utilisable"

    def __init__(self, path: Path, logger: logging.Logger, stats):
        super().__init__(path, logger, stats)
        self.entries: dict[str, StoredConversation] = {}
        self.newest_at_load: int | None = None

    def parse(self, obj):
        conversation = unwrap(obj)
        key = session_id_of(conversation)
        return None if key is None else (key, StoredConversation.of(conversation), conversation is not obj)

    def keep(self, known: StoredConversation, record: StoredConversation) -> bool:
        return record.version >= known.version

    def order(self, key: str, record: StoredConversation):
        return conversation_order(key, record.activity)

    def text(self, record: StoredConversation) -> str:
        return record.text

    def load(self) -> None:
        super().load()
        activities = [e.activity for e in self.entries.values() if e.activity is not None]
        self.newest_at_load = max(activities) if activities else None

    def stored(self, session_id: str) -> StoredConversation | None:
        return self.entries.get(session_id)

    def save_page(self, new: list[dict], updated: list[dict]) -> None:
        """Enregistre une page : ajout des nouvelles (fsync) ou, s'il y a des mises à jour,
        réécriture atomique complète (une ligne ne peut pas être remplacée sur place)."""
        # Le pipeline n'envoie que des conversations au session_id utilisable.
        records = [(str(session_id_of(c)), StoredConversation.of(c)) for c in (*new, *updated)]
        if updated:
            previous = dict(self.entries)
            self.entries.update(records)
            try:
                self.rewrite()
            except BaseException:
                # Le fichier n'a pas changé : la mémoire non plus, pour rester d'accord avec lui.
                self.entries = previous
                raise
            return
        if not new:
            return
        append_lines(self.path, [record.text for _, record in records])
        self.entries.update(records)
        # L'ajout se fait en fin de fichier, hors de l'ordre : tri à la réécriture finale.
        self.needs_rewrite = True


class ConversationsStore:
    """Le fichier des conversations et l'état de son parcours, ouverts ensemble."""

    def __init__(self, data_dir: Path, stats, per_page: int):
        layout = ExportLayout(Path(data_dir))
        self.root = layout.listing_dir
        self.file = ConversationsFile(layout.listing, logger, stats)
        self.cursor = ListingCursor(layout.listing_state)
        self.census_log = layout.census_log
        self.known_at_open: set[str] = set()
        self.stats = stats
        self.per_page = per_page
        self.dir_lock = StoreDirectory(self.root, "export des conversations", logger)
        # Vrai une fois ouvert (le reste après la fermeture : le récapitulatif le lit).
        self.opened = False

    @property
    def path(self) -> Path:
        return self.file.path

    def __len__(self) -> int:
        return len(self.file)

    def open(self, reset: bool) -> None:
        self.dir_lock.claim(lambda: self._load(reset), self.path, self.cursor.path)
        self.opened = True
        self.stats.set_value("conversations/present_before", len(self.file))

    def _load(self, reset: bool) -> None:
        if reset:
            # Seulement maintenant : configuration et arguments sont validés.
            self.path.unlink(missing_ok=True)
            self.cursor.delete()
            self.census_log.unlink(missing_ok=True)
            logger.info("reset : %s et son état supprimés, export repris de zéro.", self.path)
        self.cursor.load()
        self.file.load()
        # Les conversations de l'export à l'ouverture : celles qu'un recensement peut trouver
        # supprimées (spiders/removals.py, unlisted_trusted).
        self.known_at_open = set(self.file.entries)

    def position(self) -> ListingPosition:
        """Copie de la position enregistrée du parcours (pour l'araignée, qui la fait avancer)."""
        return replace(self.cursor.position)

    def save_page(self, new: list[dict], updated: list[dict]) -> None:
        """La page dans le fichier (l'état suit, par ``save_position``)."""
        try:
            self.file.save_page(new, updated)
        except OSError as exc:
            raise StorageError(
                f"Écriture impossible dans {self.path} : {os_reason(exc)}. Les lignes "
                "déjà présentes sont intactes ; la page sera redemandée à la prochaine exécution."
            ) from exc

    def forget(self, session_ids: set[str]) -> None:
        """Effacées du fichier pendant l'exécution (le direct) : oubliées en mémoire aussi."""
        self.file.entries = {k: v for k, v in self.file.entries.items() if k not in session_ids}

    def census_seen(self) -> set[str]:
        """Conversations vues par le recensement en cours, dans les exécutions précédentes."""
        if not self.census_log.is_file():
            return set()
        return {session_id for line in read_lines(self.census_log, "Journal du recensement")
                if isinstance(line.obj, list) for session_id in line.obj
                if isinstance(session_id, str)}

    def save_position(self, position: ListingPosition, seen: list[str] | None = None,
                      census_done: bool = False) -> None:
        """L'état du parcours après une page déjà écrite ; StorageError s'il ne peut l'être.
        ``seen`` : conversations vues par le recensement, notées AVANT la position (une page
        ne passe jamais pour recensée sans elles) ; ``census_done`` : le journal du
        recensement est retiré, puis la position dit sa fin."""
        try:
            if seen:
                append_lines(self.census_log, [dumps_line(seen)])
            if census_done:
                self.census_log.unlink(missing_ok=True)
            self.cursor.save(position, self.per_page)
        except (OSError, StorageError) as exc:
            raise StorageError(f"Impossible d'enregistrer l'état {self.cursor.path} : "
                               f"{os_reason(exc)}. Les conversations déjà écrites sont "
                               "intactes.") from exc

    def close(self) -> None:
        self.file.finish_at_close("dernière activité décroissante", "conversations")
        self.dir_lock.release()
