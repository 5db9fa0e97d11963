"""Effacer des conversations de tous les fichiers d'un export Crisp (politique ``erase``).

Ce que laisse une conversation sous ``{DATA}`` (chemins de ``layout.py``) : sa ligne de
conversations.jsonl, son fichier de messages, ses entrées dans l'état des messages, ses
pièces jointes (répertoire et lignes de l'index, entrée de l'état du balayage), ses lignes
mises de côté par la validation (*.invalides.jsonl) et ses lignes dans ``analyse/``. Tout
part ici, en un seul endroit, pour l'extension des suppressions (fin d'un crawl) comme pour
``scrapy forget`` (à venir).

Quand : toujours APRÈS que le registre des suppressions les nomme (storage/suppressions.py)
et seulement quand aucun magasin n'est ouvert (fin du crawl, sous le verrou du site) : un
seul écrivain par fichier. Chaque fichier réécrit l'est d'un coup (temporaire, fsync,
os.replace) : un arrêt brutal laisse l'ancien ou le nouveau, et l'effacement, idempotent, est
refait à la fin du crawl suivant tant qu'il reste une trace.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from crispscrape.file_refs import session_dir
from crispscrape.model import session_id_of, unwrap
from crispscrape.sources.crisp import CRISP_MODEL
from crispscrape.storage.cursor import MessagesCursor
from crispscrape.storage.files import atomic_write_json, atomic_write_lines, read_json
from crispscrape.storage.jsonl import read_lines
from crispscrape.storage.layout import ExportLayout


@dataclass
class Erased:
    """Ce qui a été effacé : nombre par sorte, et les chemins touchés (relatifs à {DATA})."""

    counts: dict[str, int] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)

    def note(self, kind: str, count: int, path: Path, root: Path) -> None:
        if count:
            self.counts[kind] = self.counts.get(kind, 0) + count
            self.paths.append(str(path.relative_to(root)))


def erase_conversations(data_dir: Path, ids: set[str]) -> Erased:
    """Efface toute trace de ces conversations sous ``data_dir`` ; rend ce qui a été touché
    (rien si elles n'y sont déjà plus)."""
    layout, root, done = ExportLayout(Path(data_dir)), Path(data_dir), Erased()
    if not ids:
        return done
    count = _filter_lines(layout.listing, lambda obj: session_id_of(unwrap(obj)) in ids)
    done.note("conversations", count, layout.listing, root)
    for session_id in sorted(ids):
        name = CRISP_MODEL.file_name(session_id)
        path = layout.messages_dir / name if name is not None else None
        if path is not None and path.is_file():
            path.unlink()
            done.note("fichiers de messages", 1, path, root)
        folder = layout.files_dir / session_dir(session_id)
        if folder.is_dir():
            shutil.rmtree(folder)
            done.note("répertoires de pièces jointes", 1, folder, root)
    done.note("états", _forget_in_messages_state(layout.messages_state, ids),
              layout.messages_state, root)
    count = _filter_lines(layout.files_index, lambda obj: obj.get("session_id") in ids)
    done.note("lignes d'index des pièces jointes", count, layout.files_index, root)
    done.note("états", _forget_in_files_state(layout.files_state, ids), layout.files_state, root)
    for kind in ("conversation", "message"):
        path = layout.invalid(kind)
        count = _filter_lines(path, lambda obj: _owner(obj) in ids)
        done.note("lignes mises de côté", count, path, root)
    return done


def _owner(obj: dict) -> str | None:
    """La conversation d'une ligne mise de côté : son champ, ou celui de l'objet rejeté."""
    owner = obj.get("session_id")
    if isinstance(owner, str):
        return owner
    inner = obj.get("object")
    return session_id_of(inner) if isinstance(inner, dict) else None


def _filter_lines(path: Path, drop: Callable[[dict], bool]) -> int:
    """Réécrit ``path`` sans les lignes (objets JSON) que ``drop`` désigne ; les autres
    lignes, même illisibles, restent telles quelles. Rend le nombre de lignes retirées."""
    if not path.is_file():
        return 0
    kept: list[str] = []
    removed = 0
    for line in read_lines(path, str(path.name)):
        if isinstance(line.obj, dict) and drop(line.obj):
            removed += 1
        else:
            kept.append(line.text if line.text.endswith("\n") else line.text + "\n")
    if removed:
        atomic_write_lines(path, kept)
    return removed


def _forget_in_messages_state(path: Path, ids: Iterable[str]) -> int:
    if not path.is_file():
        return 0
    cursor = MessagesCursor(path)
    cursor.load(reset=False)
    count = 0
    for session_id in ids:
        count += cursor.done.pop(session_id) is not None
        count += cursor.incomplete.pop(session_id, "absent") != "absent"
        if cursor.next_session_id == session_id:
            # Le curseur retrouvera sa place par son rang : l'identifiant n'est plus écrit.
            cursor.next_session_id = None
            count += 1
    if count:
        cursor.save()
    return count


def _forget_in_files_state(path: Path, ids: set[str]) -> int:
    state = read_json(path, "État des pièces jointes")
    scanned = state.get("scanned") if isinstance(state, dict) else None
    if not isinstance(scanned, dict):
        return 0
    count = 0
    for session_id in ids:
        if session_id in scanned:
            del scanned[session_id]
            count += 1
    if count:
        atomic_write_json(path, state, compact=True)  # comme FileIndex.close
    return count

