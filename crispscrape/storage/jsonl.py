"""LE lecteur JSONL du projet (``read_lines`` : même tolérance pour tous) et LE chargeur des
fichiers tenus une ligne par clé (``KeyedFile`` : conversations.jsonl, utilisateurs.jsonl). Ce
que chacun fait d'une ligne illisible : docs/conversations.md, docs/messages.md."""

from __future__ import annotations

import datetime
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crispscrape.oserrors import os_reason
from crispscrape.storage.files import StorageError, append_lines, atomic_write_lines

BOM = b"\xef\xbb\xbf"


@dataclass
class JsonlLine:
    number: int
    obj: Any  # None si la ligne n'est pas du JSON
    text: str  # saut de ligne final compris s'il y était
    recoded: bool = False  # lue en latin-1 (pas de l'UTF-8)

    @property
    def full(self) -> str:
        """Le texte, saut de ligne final ajouté s'il manquait."""
        return self.text if self.text.endswith("\n") else self.text + "\n"


def read_lines(path: Path | str, what: str) -> Iterator[JsonlLine]:
    """Parcourt un fichier JSONL en flux (la mémoire ne dépend pas de sa taille)."""
    try:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if number == 1 and raw.startswith(BOM):  # laissée par certains éditeurs
                    raw = raw[len(BOM):]
                if not raw.strip():
                    continue
                try:
                    text, recoded = raw.decode("utf-8"), False
                except UnicodeDecodeError:
                    # Un octet latin-1 venu d'un autre outil : en latin-1, chaque octet garde un
                    # caractère, rien n'est remplacé ni perdu.
                    text, recoded = raw.decode("latin-1"), True
                try:
                    obj = json.loads(text)
                except ValueError:
                    obj = None
                yield JsonlLine(number, obj, text, recoded)
    except OSError as exc:
        raise StorageError(f"{what} illisible ({path}) : {os_reason(exc)}.") from exc


def read_records(path: Path, what: str) -> list[dict]:
    """Les objets lisibles d'un registre (une ligne abîmée, reste d'un arrêt brutal, ne dit
    rien). os.path.isfile : un nom trop long ou un accès refusé comptent pour « absent » ici ;
    les pré-vols les disent en français (storage/paths.py, commands/data_dir.py)."""
    if not os.path.isfile(path):
        return []
    return [line.obj for line in read_lines(path, what) if isinstance(line.obj, dict)]


def utc_now() -> str:
    """L'heure d'une ligne de registre (``when``) : ISO 8601, UTC, à la seconde."""
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


@dataclass
class JsonlContent:
    lines: list[JsonlLine] = field(default_factory=list)
    fragment: str | None = None  # dernière ligne tronquée, retirée
    normalise: bool = False  # à réécrire pour être normalisé (BOM, latin-1)


def load_and_repair(path: Path, what: str, logger: logging.Logger) -> JsonlContent:
    """Lit un fichier complété par ajouts (absent = vide) et répare sa fin si besoin."""
    content = JsonlContent()
    if not path.exists():
        return content
    pending: JsonlLine | None = None  # ligne illisible pas encore suivie d'une autre
    with open(path, "rb") as handle:
        content.normalise = handle.read(len(BOM)) == BOM
    for line in read_lines(path, what):
        if pending is not None:
            raise StorageError(f"{what} : la ligne {pending.number} de {path} est illisible (JSON invalide) "
                               "alors que d'autres lignes la suivent. Le fichier n'a pas été modifié ; corrigez "
                               "ou supprimez cette ligne, ou relancez avec -a reset=1 pour repartir de zéro.")
        if line.obj is None:
            pending = line
            continue
        content.normalise = content.normalise or line.recoded
        content.lines.append(line)
    if pending is not None:
        content.fragment = pending.text
        logger.warning(
            "%s : la dernière ligne de %s (ligne %d, %d caractères) est tronquée, sans doute un "
            "arrêt brutal pendant l'écriture. Elle est retirée ; les %d lignes complètes sont "
            "conservées et l'élément concerné sera redemandé à l'API.",
            what, path, pending.number, len(pending.text), len(content.lines))
        # Lignes complètes : toutes suivies d'une autre, donc toutes avec leur saut de ligne.
        atomic_write_lines(path, [line.text for line in content.lines])
    elif content.lines and not content.lines[-1].text.endswith("\n"):
        # Ligne complète sans saut de ligne final : on le rajoute, sans rien réécrire.
        append_lines(path, [])  # le saut de ligne final, seul (voir files.append_lines)
        content.lines[-1].text += "\n"
    if content.normalise:
        logger.warning("%s : %s contient une marque BOM ou des octets non UTF-8 (lus en latin-1) ; "
                       "il sera réécrit en UTF-8, sans perdre aucune ligne.", what, path)
    return content


class KeyedFile:
    """Le contenu d'un fichier JSONL en mémoire (``entries`` : clé -> enregistrement) ; les
    sous-classes disent la clé, l'ordre et le texte d'une ligne."""

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

    def parse(self, obj: Any) -> tuple[str, Any, bool] | None:
        """(clé, enregistrement, enveloppé ?) d'un objet lu ; None s'il n'a pas de clé."""
        raise NotImplementedError

    def keep(self, known: Any, record: Any) -> bool:
        """Doublon : vrai si ``record`` (plus bas dans le fichier) remplace ``known``."""
        return True

    def order(self, key: str, record: Any) -> Any:
        return key

    def text(self, record: Any) -> str:
        return record

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

    def rewrite(self) -> None:
        """Remplace le fichier par tous les enregistrements, triés, d'un seul coup."""
        ordered = sorted(self.entries.items(), key=lambda item: self.order(*item))
        atomic_write_lines(self.path, [self.text(record) for _, record in ordered] + self.foreign)
        self.needs_rewrite = False

    def finish(self) -> bool:
        """Réécriture finale (tri, normalisation) si elle change quelque chose ; True si faite."""
        if not self.needs_rewrite:
            return False
        self.rewrite()
        return True

    def finish_at_close(self, order: str, unit: str) -> None:
        """Tri final, même sans aucun appel (relance après un arrêt pendant le tri) ; un échec
        est dit, le fichier reste complet."""
        try:
            if self.finish():
                self.logger.info("Fichier %s trié par %s (%d %s).", self.path, order, len(self), unit)
        except OSError as exc:
            self.stats.inc_value(f"{self.stat_prefix}/final_sort_failed")
            self.logger.error("Tri final de %s impossible : %s. Le fichier est complet mais pas trié ; "
                              "il le sera à la prochaine exécution.", self.path, os_reason(exc))
        self.stats.set_value(f"{self.stat_prefix}/total", len(self))

    def __len__(self) -> int:
        return len(self.entries)
