"""Magasin de l'export des conversations : ``conversations/conversations.jsonl`` et son état.

Le fichier : une conversation par ligne, telle que renvoyée par l'API, unique par
``session_id``, triée à la fin de chaque exécution par dernière activité décroissante.
Les nouvelles conversations y sont AJOUTÉES au fil des pages (lignes complètes + fsync) :
un arrêt brutal ne perd au pire que la page en cours. Les conversations mises à jour, elles,
remplacent leur ancienne ligne : le fichier est alors réécrit d'un coup (atomiquement).

``ConversationsStore`` possède le fichier ET l'état du parcours (``listing.py``) ; seul le
pipeline des conversations le modifie, toujours dans cet ordre : la page dans le fichier,
PUIS l'état (un arrêt brutal ne fait jamais croire qu'une page est enregistrée).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from crispscrape.items import PageOutcome
from crispscrape.model import activity_of, session_id_of, unwrap, version_of
from crispscrape.storage.files import (
    StorageError,
    append_lines,
    atomic_write_lines,
    claim_directory,
    dumps_line,
)
from crispscrape.storage.jsonl import load_and_repair
from crispscrape.storage.listing import ListingCursor, PageWalk, plan_walk
from crispscrape.oserrors import os_reason
from crispscrape.storage.paths import check_output, remove_if_empty

logger = logging.getLogger(__name__)

WHAT = "Fichier des conversations"


def conversation_order(session_id: str, activity: int | None) -> tuple[int, str]:
    """Ordre du fichier : activité décroissante ; à égalité, session_id croissant (ordre
    stable d'une exécution à l'autre, le même que celui de la liste du bac à sable) ; les
    conversations sans aucune date à la fin."""
    return (-(activity if activity is not None else -1), session_id)


@dataclass
class StoredConversation:
    version: tuple[int, int]
    activity: int | None
    text: str  # ligne JSONL normalisée (objet nu, saut de ligne final)


class ConversationsFile:
    """Le contenu de conversations.jsonl en mémoire (une ligne par session_id) et ses écritures."""

    def __init__(self, path: Path, logger: logging.Logger, stats):
        self.path = Path(path)
        self.logger = logger
        self.stats = stats
        self.entries: dict[str, StoredConversation] = {}
        # Lignes JSON valides sans session_id : gardées telles quelles, à la fin du fichier.
        self.foreign: list[str] = []
        self.newest_at_load: int | None = None
        self.count_at_load = 0
        # Vrai si le fichier sur disque diffère de ce que la réécriture finale produirait.
        self.needs_rewrite = False

    # --- Chargement ----------------------------------------------------------------------
    def load(self) -> None:
        content = load_and_repair(self.path, WHAT, self.logger)
        # BOM ou octets latin-1 : lus sans perte, le fichier sera réécrit en UTF-8.
        self.needs_rewrite = content.normalise
        if content.fragment is not None:
            self.stats.inc_value("conversations/truncated_line_repaired")
        previous_key = None
        foreign_seen = False
        for line in content.lines:
            conversation = unwrap(line.obj)
            session_id = session_id_of(conversation)
            if session_id is None:
                foreign_seen = True
                self.foreign.append(line.text)
                self.stats.inc_value("conversations/foreign_lines")
                self.logger.warning("%s, ligne %d : objet sans session_id utilisable, conservé "
                                    "tel quel en fin de fichier.", self.path, line.number)
                continue
            if foreign_seen:
                # Une ligne étrangère avant une conversation : la réécriture la déplacera.
                self.needs_rewrite = True
            if conversation is not line.obj:
                # Ligne enveloppée d'un ancien export : normalisée à la prochaine réécriture.
                self.needs_rewrite = True
            stored = StoredConversation(version_of(conversation), activity_of(conversation),
                                        dumps_line(conversation))
            known = self.entries.get(session_id)
            if known is not None:
                self.needs_rewrite = True
                self.stats.inc_value("conversations/duplicates_removed")
                if stored.version < known.version:
                    continue
            self.entries[session_id] = stored
            key = conversation_order(session_id, stored.activity)
            if previous_key is not None and key < previous_key:
                self.needs_rewrite = True
            previous_key = key
        self.count_at_load = len(self.entries)
        activities = [e.activity for e in self.entries.values() if e.activity is not None]
        self.newest_at_load = max(activities) if activities else None

    # --- Consultation ----------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.entries)

    def version(self, session_id: str) -> tuple[int, int] | None:
        entry = self.entries.get(session_id)
        return entry.version if entry else None

    # --- Écritures ---------------------------------------------------------------------------
    def save_page(self, new: list[dict], updated: list[dict]) -> None:
        """Enregistre une page : ajout des nouvelles (fsync) ou, s'il y a des mises à jour,
        réécriture atomique complète (une ligne ne peut pas être remplacée sur place)."""
        # Le pipeline n'envoie que des conversations au session_id utilisable.
        records = [(str(session_id_of(c)), StoredConversation(version_of(c), activity_of(c),
                                                              dumps_line(c)))
                   for c in (*new, *updated)]
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

    def rewrite(self) -> None:
        """Remplace le fichier par toutes les conversations, triées, d'un seul coup."""
        ordered = sorted(self.entries.items(),
                         key=lambda item: conversation_order(item[0], item[1].activity))
        atomic_write_lines(self.path, [entry.text for _, entry in ordered] + self.foreign)
        self.needs_rewrite = False

    def finish(self) -> bool:
        """Réécriture finale (tri, normalisation) si elle change quelque chose ; True si faite."""
        # Même sans aucun appel (relance après un arrêt pendant le tri final) : le
        # fichier doit finir trié.
        if not self.needs_rewrite:
            return False
        self.rewrite()
        return True


class ConversationsStore:
    """Le fichier des conversations et l'état de son parcours, ouverts ensemble."""

    def __init__(self, data_dir: Path, stats, per_page: int):
        self.root = Path(data_dir) / "conversations"
        self.file = ConversationsFile(self.root / "conversations.jsonl", logger, stats)
        self.cursor = ListingCursor(self.root / "conversations.jsonl.state.json")
        self.stats = stats
        self.per_page = per_page
        self.walk: PageWalk | None = None
        self._lock: int | None = None
        self._created: list[Path] = []

    @property
    def opened(self) -> bool:
        return self._lock is not None

    @property
    def path(self) -> Path:
        return self.file.path

    def __len__(self) -> int:
        return len(self.file)

    def open(self, reset: bool) -> None:
        """Vérifie la sortie, prend le verrou, lit fichier et état ; StorageError sinon."""
        self._created = check_output(self.root, self.path)
        lock = claim_directory(self.root, "export des conversations", logger)
        if self.cursor.path.exists() and not self.cursor.path.is_file():
            raise StorageError(f"{self.cursor.path} existe mais n'est pas un fichier. Rien n'a été "
                               "modifié ; renommez-le ou supprimez-le puis relancez.")
        if reset:
            # Seulement maintenant : configuration et arguments sont validés.
            self.path.unlink(missing_ok=True)
            self.cursor.delete()
            logger.info("reset : %s et son état supprimés, export repris de zéro.", self.path)
        self.cursor.load()
        self.file.load()
        self.walk = plan_walk(self.cursor, len(self.file), self.file.newest_at_load, self.per_page)
        self._lock = lock
        self.stats.set_value("conversations/present_before", len(self.file))

    def save_page(self, new: list[dict], updated: list[dict], outcome: PageOutcome,
                  budget_left: int) -> None:
        """La page dans le fichier, puis l'état ; ``outcome.next_page`` dit la suite."""
        try:
            self.file.save_page(new, updated)
        except OSError as exc:
            raise StorageError(
                f"Écriture impossible dans {self.path} : {os_reason(exc)}. Les lignes "
                "déjà présentes sont intactes ; la page sera redemandée à la prochaine exécution."
            ) from exc
        assert self.walk is not None
        outcome.mode = self.walk.mode
        next_page, changed = self.walk.advance(outcome, budget_left)
        if changed:
            try:
                self.cursor.save(self.per_page)
            except (OSError, StorageError) as exc:
                outcome.state_error = (f"Impossible d'enregistrer l'état {self.cursor.path} : "
                                       f"{os_reason(exc)}. Les "
                                       "conversations déjà écrites sont intactes.")
                return
        outcome.next_page = next_page
        outcome.stop_reason = self.walk.stop_reason

    def close(self) -> None:
        """Tri final (même sans aucun appel : relance après un arrêt pendant le tri)."""
        try:
            if self.file.finish():
                logger.info("Fichier %s trié par dernière activité décroissante (%d conversations).",
                            self.path, len(self.file))
        except OSError as exc:
            self.stats.inc_value("conversations/final_sort_failed")
            logger.error("Tri final de %s impossible : %s. Le fichier est complet mais pas trié ; "
                         "il le sera à la prochaine exécution.", self.path, os_reason(exc))
        self.stats.set_value("conversations/total", len(self.file))
        remove_if_empty(self._created)
