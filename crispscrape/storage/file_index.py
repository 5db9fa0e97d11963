"""L'index des pièces jointes, ``conversations/fichiers.jsonl`` (docs/fichiers.md). Chaque
résultat y est AJOUTÉ (ligne complète + fsync) APRÈS l'écriture de son fichier : un arrêt
brutal perd au plus le résultat en cours, jamais un fichier annoncé ``ok`` sans ses octets."""

from __future__ import annotations

import logging
import os
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from crispscrape.storage.files import (
    append_lines, atomic_write_json, atomic_write_lines, dumps_line, read_json,
    remove_stale_temporaries,
)
from crispscrape.storage.jsonl import read_lines
from crispscrape.storage.layout import FILES_DIR, ExportLayout

logger = logging.getLogger(__name__)

OK = "ok"
# Arrêt du crawl pendant le téléchargement : redemandé sans compter de tentative.
INTERRUPTED = "interrompu"
# Refus définitifs, jamais redemandés pour la même URL.
REFUSED = ("schema_refuse", "url_invalide")


@dataclass
class Entry:
    """Une ligne de l'index (les champs sont ceux du fichier, dans cet ordre)."""

    session_id: str
    fingerprint: int
    url: str
    path: str
    size: int | None
    checksum: str | None
    status: str
    attempts: int = 0

    @property
    def key(self) -> tuple[str, int]:
        return self.session_id, self.fingerprint

    @property
    def name(self) -> str:
        """Nom du fichier, sans le répertoire ni l'empreinte placée devant (attachments.py)."""
        name = self.path.rsplit("/", 1)[-1]
        return name.removeprefix(f"{self.fingerprint}-") or name


def abandoned(entry: Entry, max_attempts: int) -> bool:
    """Échec qui ne sera plus jamais retenté : refus définitif, ou tentatives épuisées
    (``interrompu`` n'en compte pas). Même règle pour le téléchargement et pour l'état."""
    return entry.status in REFUSED or (entry.status not in (OK, INTERRUPTED)
                                       and entry.attempts >= max_attempts)


def read_failures(data_dir: Path) -> list[Entry]:
    """Les pièces de l'index en échec, triées par clé (la dernière ligne d'une clé l'emporte) :
    ni ``ok``, ni ``interrompu`` (coupé par un arrêt, il repart au prochain lancement). Lecture
    seule (``scrapy status``, le rapport) ; index absent : aucune ; illisible : StorageError."""
    path = ExportLayout(Path(data_dir)).files_index
    if not os.path.isfile(path):
        return []
    entries = (_entry(line.obj) for line in read_lines(path, "Index des pièces jointes"))
    latest = {entry.key: entry for entry in entries if entry is not None}
    return [latest[key] for key in sorted(latest) if latest[key].status not in (OK, INTERRUPTED)]


def _entry(obj: Any) -> Entry | None:
    """Ligne lue -> Entry, ou None si elle n'en a pas la forme (ligne ignorée)."""
    if not isinstance(obj, dict):
        return None
    try:
        entry = Entry(**{name: obj[name] for name in Entry.__dataclass_fields__ if name in obj})
    except TypeError:
        return None
    typed = isinstance(entry.session_id, str) and isinstance(entry.fingerprint, int) \
        and isinstance(entry.url, str) and isinstance(entry.path, str) \
        and isinstance(entry.status, str) and isinstance(entry.attempts, int)
    return entry if typed else None


class AttachmentIndex:
    """L'index des pièces jointes et l'état du balayage des fichiers de messages."""

    def __init__(self, data_dir: Path, max_attempts: int):
        self.data_dir = Path(data_dir)
        self.path = ExportLayout(self.data_dir).files_index
        # Taille de chaque fichier de messages quand ses pièces jointes ont toutes été notées.
        self.state_path = ExportLayout(self.data_dir).files_state
        self.max_attempts = max_attempts
        self.entries: dict[tuple[str, int], Entry] = {}
        self.scanned: dict[str, int] = {}
        # Lignes ``ok`` dont le fichier manque ou a changé de taille : à redemander.
        self.stale: set[tuple[str, int]] = set()
        self.opened = False
        # Vrai si l'état du balayage a changé (rien n'est écrit pour une exécution sans objet).
        self._scanned_changed = False

    def open(self) -> None:
        lines = 0
        if self.path.exists():
            for line in read_lines(self.path, "Index des pièces jointes"):
                lines += 1
                entry = _entry(line.obj)
                if entry is None:
                    logger.warning("Index des pièces jointes : ligne %d de %s illisible, ignorée "
                                   "(la pièce sera redemandée).", line.number, self.path)
                    continue
                self.entries[entry.key] = entry
        state = read_json(self.state_path, "État des pièces jointes") or {}
        scanned = state.get("scanned") if isinstance(state, dict) else None
        if isinstance(scanned, dict):
            self.scanned = {k: v for k, v in scanned.items() if isinstance(v, int)}
        for entry in self.entries.values():
            if entry.status == OK and not self._complete_on_disk(entry):
                self.stale.add(entry.key)
        if self.stale:
            logger.warning("%d pièce(s) jointe(s) notée(s) ok sont absentes ou incomplètes sur "
                           "disque : elles seront téléchargées de nouveau.", len(self.stale))
        self._remove_temporaries()
        self.opened = True
        if lines != len(self.entries):
            self.compact()

    def _remove_temporaries(self) -> None:
        """Temporaires d'écritures interrompues (arrêt brutal) : jamais pris pour un fichier."""
        root = self.data_dir / FILES_DIR
        if not root.is_dir():
            return
        with os.scandir(root) as entries:
            folders = [entry.path for entry in entries if entry.is_dir(follow_symlinks=False)]
        removed = sum(remove_stale_temporaries(Path(folder)) for folder in folders)
        if removed:
            logger.info("%d pièce(s) jointe(s) à moitié écrite(s) par un arrêt brutal supprimée(s).", removed)

    def _complete_on_disk(self, entry: Entry) -> bool:
        try:
            return os.stat(self.data_dir / entry.path).st_size == entry.size
        except OSError:
            return False

    def close(self) -> None:
        if not self.opened:
            return
        self.compact()
        if self._scanned_changed:
            atomic_write_json(self.state_path, {"scanned": dict(sorted(self.scanned.items()))}, compact=True)

    def compact(self) -> None:
        """Réécrit l'index d'un coup : une ligne par pièce jointe, triées."""
        if not self.entries and not self.path.exists():
            return
        ordered = sorted(self.entries.values(), key=lambda e: e.key)
        atomic_write_lines(self.path, [dumps_line(asdict(e)) for e in ordered])

    def record(self, entries: list[Entry]) -> None:
        """Ajoute ces résultats à l'index (lignes complètes, fsync), APRÈS leurs fichiers."""
        if not entries:
            return
        append_lines(self.path, [dumps_line(asdict(e)) for e in entries])
        for entry in entries:
            self.entries[entry.key] = entry
            self.stale.discard(entry.key)

    def mark_scanned(self, session_id: str, size: int) -> None:
        self._scanned_changed |= self.scanned.get(session_id) != size
        self.scanned[session_id] = size

    def forget(self, session_ids: set[str], messages: set[tuple]) -> None:
        """Effacées pendant l'exécution (le direct) : leurs lignes oubliées en mémoire aussi."""
        for key in [k for k in self.entries if k[0] in session_ids or k in messages]:
            del self.entries[key]
            self.stale.discard(key)
        for session_id in session_ids & self.scanned.keys():
            del self.scanned[session_id]
            self._scanned_changed = True

    def counts(self) -> dict[str, int]:
        return dict(Counter(entry.status for entry in self.entries.values()))
