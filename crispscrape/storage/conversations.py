"""``conversations/conversations.jsonl`` et son état de pagination.

Le fichier : une conversation par ligne, telle que renvoyée par l'API, unique par
``session_id``, triée à la fin de chaque exécution par dernière activité décroissante.
Les nouvelles conversations y sont AJOUTÉES au fil des pages (lignes complètes + fsync) :
un arrêt brutal ne perd au pire que la page en cours. Les conversations mises à jour, elles,
remplacent leur ancienne ligne : le fichier est alors réécrit d'un coup (atomiquement).

L'état (``conversations.jsonl.state.json``) garde la prochaine page du rattrapage
(``page_number``), la taille de page utilisée, si le rattrapage est terminé et le
« filigrane » (voir le README et spiders/conversations.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from crispscrape.model import activity_of, session_id_of, timestamp_of, unwrap, version_of
from crispscrape.storage.state import StateFile
from crispscrape.storage.files import StorageError, append_lines, atomic_write_lines, dumps_line
from crispscrape.storage.jsonl import load_and_repair

WHAT = "Fichier des conversations"
# Taille de page du script d'origine (conv.py) : sert à interpréter son état, qui ne la note pas.
ORIGINAL_PER_PAGE = 20
# Clés de page acceptées dans un état existant, de la plus sûre à la plus vague : les
# variantes du script d'origine y notent toutes la PROCHAINE page à demander.
PAGE_KEYS = ("page_number", "next_page", "next_page_number", "page")
# Présente dans tout état écrit par crispscrape ; absente = état du script d'origine.
FORMAT_KEY = "format"
FORMAT = 1


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
        records = [(session_id_of(c), StoredConversation(version_of(c), activity_of(c),
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
        ordered = sorted(self.entries.items(), key=lambda item: conversation_order(item[0], item[1].activity))
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


class ListingCursor:
    """État de pagination : prochaine page du rattrapage, taille de page, filigrane, fin."""

    def __init__(self, path: Path):
        self.file = StateFile(path, "Fichier d'état des conversations")
        self.page_number = 1
        self.per_page: int | None = None
        self.backfill_complete = False
        # Dernière activité (ms) sous laquelle tout ce qui précède le rattrapage est connu.
        self.watermark: int | None = None
        self.original = False  # état écrit par le script d'origine (conv.py)
        self.exists = False

    @property
    def path(self) -> Path:
        return self.file.path

    def load(self) -> None:
        data = self.file.load()
        self.exists = bool(data)
        if not data:
            return
        self.original = data.get(FORMAT_KEY) is None
        key = next((k for k in PAGE_KEYS if data.get(k) is not None), None)
        if key is not None:
            self.page_number = self._positive(data[key], key)
        per_page = data.get("per_page")
        self.per_page = self._positive(per_page, "per_page") if per_page is not None else (
            ORIGINAL_PER_PAGE if self.original else None)
        self.backfill_complete = data.get("backfill_complete") is True
        watermark = data.get("watermark")
        self.watermark = timestamp_of(watermark)
        if watermark is not None and self.watermark is None:
            self._corrupt("watermark", watermark)

    def _positive(self, value: Any, key: str) -> int:
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
            self._corrupt(key, value)
        return int(text)

    def _corrupt(self, key: str, value: Any):
        raise StorageError(
            f"Fichier d'état des conversations inattendu ({self.path}) : « {key} » vaut "
            f"{value!r}. Il n'a pas été modifié ; corrigez-le, ou relancez avec -a reset=1 "
            "pour repartir de zéro."
        )

    def resume_page(self, per_page: int) -> int:
        """Page du rattrapage à demander avec la taille de page actuelle.

        La position (nombre de conversations déjà parcourues) est convertie si la taille de
        page a changé, en arrondissant vers le haut de la liste : on redemande un peu, on ne
        saute rien. L'état du script d'origine avance d'une page même quand --nb coupe la
        page en cours : on reprend donc une page plus tôt pour ne rien manquer.
        """
        old = self.per_page or per_page
        offset = (self.page_number - 1) * old
        if self.original:
            offset = max(0, offset - old)
        return offset // per_page + 1

    def restart(self) -> None:
        """Repart comme une première exécution (le fichier décrit par l'état a disparu)."""
        self.page_number, self.backfill_complete, self.watermark = 1, False, None
        self.original = False

    def save(self, per_page: int) -> None:
        data = {
            FORMAT_KEY: FORMAT,
            "page_number": self.page_number,
            "per_page": per_page,
            "backfill_complete": self.backfill_complete,
            "watermark": self.watermark,
        }
        # Les autres clés d'un état existant sont gardées ; les anciens noms de la page
        # (next_page…) sont retirés pour qu'une seule valeur fasse foi.
        data.update({k: v for k, v in self.file.data.items()
                     if k not in PAGE_KEYS and k not in data})
        self.file.data = data
        self.file.save()
        self.per_page, self.original, self.exists = per_page, False, True

    def delete(self) -> None:
        self.file.delete()
