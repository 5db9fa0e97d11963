"""Effacer des messages et des profils supprimés chez Crisp (``CRISP_REMOVED=erase``).

Un profil (``erase_profiles``) : sa ligne de utilisateurs.jsonl, par son people_id. Le
magasin des profils la retire déjà à sa réécriture finale ; ici, ce qu'un arrêt brutal
aurait laissé, tant que le registre le désigne.


Un message qu'une relecture complète ne revoit plus (spiders/messages.py) est retiré de son
fichier par le magasin des messages pendant le crawl. Ici, à la fin du crawl
(pipelines/removals.py), ce qui en reste ailleurs : ses pièces jointes (fichiers et lignes
de l'index) et, si un arrêt brutal a devancé la réécriture, sa ligne dans le fichier de la
conversation. Idempotent, refait tant que le registre le désigne et qu'il en reste une trace.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

from crispscrape.model import profile_of
from crispscrape.sources.base import MessageModel
from crispscrape.sources.crisp import CRISP_MODEL
from crispscrape.storage.erase import Erased, filter_lines
from crispscrape.storage.jsonl import read_lines
from crispscrape.storage.layout import ExportLayout


def message_keys(ids: set[str]) -> set[tuple[str, object]]:
    """Les identifiants du registre (« {session_id}:{clé} ») en couples (session, clé)."""
    keys: set[tuple[str, object]] = set()
    for value in ids:
        session_id, _, key = value.rpartition(":")
        if session_id:
            keys.add((session_id, int(key) if key.isdigit() else key))
    return keys


def _key_in(model: MessageModel, wanted: set):
    return lambda obj: model.message_key(obj) in wanted


def erase_messages(data_dir: Path, keys: set[tuple[str, object]],
                   model: MessageModel = CRISP_MODEL) -> Erased:
    root, done = Path(data_dir), Erased()
    layout = ExportLayout(root, model.folder, model.listing_name)
    by_session: dict[str, set] = defaultdict(set)
    for session_id, key in keys:
        by_session[session_id].add(key)
    for session_id, wanted in sorted(by_session.items()):
        name = model.file_name(session_id)
        if name is None:
            continue
        path = layout.messages_dir / name
        done.note("messages", filter_lines(path, _key_in(model, wanted)), path, root)
    if model is not CRISP_MODEL or not layout.files_index.is_file():
        return done
    inside = os.path.realpath(root)
    for line in read_lines(layout.files_index, "Index des pièces jointes"):
        entry = line.obj
        if not isinstance(entry, dict) or (entry.get("session_id"),
                                           entry.get("fingerprint")) not in keys:
            continue
        target = os.path.realpath(root / str(entry.get("path", "")))
        # Jamais hors du répertoire de données, quoi que dise une ligne de l'index.
        if target.startswith(inside + os.sep) and os.path.isfile(target):
            os.unlink(target)
            done.note("pièces jointes", 1, Path(target), Path(inside))
    count = filter_lines(layout.files_index,
                         lambda obj: (obj.get("session_id"), obj.get("fingerprint")) in keys)
    done.note("lignes d'index des pièces jointes", count, layout.files_index, root)
    return done


def erase_profiles(data_dir: Path, people_ids: set[str]) -> Erased:
    root, done = Path(data_dir), Erased()
    path = ExportLayout(root).users
    if people_ids:
        count = filter_lines(path, lambda obj: profile_of(obj).get("people_id") in people_ids)
        done.note("profils", count, path, root)
    return done
