"""LE chargeur des fichiers JSONL tenus en mémoire, une ligne par clé, complétés par ajouts
puis réécrits triés d'un seul coup : ``conversations.jsonl`` (clé : session_id) et
``utilisateurs.jsonl`` (clé : e-mail). Fin tronquée, ligne illisible, BOM, latin-1 :
``jsonl.load_and_repair``. Un objet sans clé utilisable est gardé tel quel en fin de fichier
(jamais perdu) ; d'un doublon, une seule ligne reste (``keep``) ; enveloppe d'un ancien
export, ligne étrangère avant une autre, désordre : normalisés à la réécriture finale.

Statistiques ``{stat_prefix}/truncated_line_repaired``, ``/foreign_lines``,
``/duplicates_removed``. Les sous-classes disent la clé, l'ordre et le texte d'une ligne.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from crispscrape.storage.files import atomic_write_lines
from crispscrape.storage.jsonl import load_and_repair


class KeyedFile:
    """Le contenu d'un fichier JSONL en mémoire (``entries`` : clé -> enregistrement)."""

    what = "Fichier"
    stat_prefix = ""
    # Ce qui manque à une ligne étrangère, pour l'avertissement (« sans session_id utilisable »).
    missing_key = "sans clé utilisable"

    def __init__(self, path: Path, logger: logging.Logger, stats):
        self.path = Path(path)
        self.logger = logger
        self.stats = stats
        self.entries: dict[str, Any] = {}
        # Lignes JSON valides sans clé : gardées telles quelles, à la fin du fichier.
        self.foreign: list[str] = []
        # Vrai si le fichier sur disque diffère de ce que la réécriture finale produirait.
        self.needs_rewrite = False

    # --- Ce qui distingue un fichier ------------------------------------------------------
    def parse(self, obj: Any) -> tuple[str, Any, bool] | None:
        """(clé, enregistrement, enveloppé ?) d'un objet lu ; None s'il n'a pas de clé."""
        raise NotImplementedError

    def keep(self, known: Any, record: Any) -> bool:
        """Doublon : vrai si ``record`` (plus bas dans le fichier) remplace ``known``."""
        return True

    def order(self, key: str, record: Any) -> Any:
        """Clé de tri du fichier réécrit."""
        return key

    def text(self, record: Any) -> str:
        """La ligne JSONL d'un enregistrement (saut de ligne final compris)."""
        return record

    # --- Chargement -------------------------------------------------------------------------
    def load(self) -> None:
        content = load_and_repair(self.path, self.what, self.logger)
        self.needs_rewrite = content.normalise
        if content.fragment is not None:
            self.stats.inc_value(f"{self.stat_prefix}/truncated_line_repaired")
        previous = None
        foreign_seen = False
        for line in content.lines:
            parsed = self.parse(line.obj)
            if parsed is None:
                foreign_seen = True
                self.foreign.append(line.text)
                self.stats.inc_value(f"{self.stat_prefix}/foreign_lines")
                self.logger.warning("%s, ligne %d : objet %s, conservé tel quel en fin de "
                                    "fichier.", self.path, line.number, self.missing_key)
                continue
            key, record, wrapped = parsed
            if wrapped or foreign_seen:
                self.needs_rewrite = True
            known = self.entries.get(key)
            if known is not None:
                self.needs_rewrite = True
                self.stats.inc_value(f"{self.stat_prefix}/duplicates_removed")
                if not self.keep(known, record):
                    continue
            self.entries[key] = record
            order = self.order(key, record)
            if previous is not None and order < previous:
                self.needs_rewrite = True
            previous = order

    # --- Écritures ---------------------------------------------------------------------------
    def rewrite(self) -> None:
        """Remplace le fichier par tous les enregistrements, triés, d'un seul coup."""
        ordered = sorted(self.entries.items(), key=lambda item: self.order(*item))
        atomic_write_lines(self.path, [self.text(record) for _, record in ordered] + self.foreign)
        self.needs_rewrite = False

    def finish(self) -> bool:
        """Réécriture finale (tri, normalisation) si elle change quelque chose ; True si faite.
        Même sans aucun appel (relance après un arrêt pendant le tri final) : le fichier doit
        finir trié."""
        if not self.needs_rewrite:
            return False
        self.rewrite()
        return True

    def __len__(self) -> int:
        return len(self.entries)
