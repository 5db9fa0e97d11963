"""Où une conversation, un message ou un profil laisse des traces dans un export (chemins de
storage/layout.py), effacées par les primitives de storage/erase.py, pour l'extension des
suppressions (fin d'un crawl, pipelines/removals.py) comme pour ``scrapy forget``.

Une conversation laisse : sa ligne de conversations.jsonl, son fichier de messages (et ses
``.lignes-illisibles``), ses entrées dans l'état des messages, ses pièces jointes (répertoire,
lignes de l'index, état du balayage), ses lignes mises de côté par la validation
(*.invalides.jsonl), sa place dans le journal d'un recensement en cours, et ses événements
du direct (``evenements/*.jsonl``, et sa place parmi les conversations à relire).

Quand : toujours APRÈS que le registre des suppressions les nomme (storage/suppressions.py)
et seulement quand aucun magasin n'est ouvert (fin du crawl, ou scrapy forget, sous le
verrou du site) : un seul écrivain par fichier. L'effacement, idempotent, est refait tant
qu'il reste une trace. La ligne de la liste part en DERNIER : interrompu, l'effacement
retrouve encore la conversation par l'e-mail.
"""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from crispscrape.file_refs import session_dir
from crispscrape.model import profile_of, session_id_of
from crispscrape.sources.base import MessageModel
from crispscrape.sources.crisp import CRISP_MODEL
from crispscrape.storage.erase import (
    drop_from_census, drop_from_files_state, drop_from_messages_state, filter_lines,
)
from crispscrape.storage.files import StateFile
from crispscrape.storage.journal import STATE_NAME as JOURNAL_STATE
from crispscrape.storage.jsonl import read_lines
from crispscrape.storage.layout import UNREADABLE_SUFFIX, ExportLayout


@dataclass
class Erased:
    """Ce qui a été effacé : nombre par sorte, et les chemins touchés (relatifs à {DATA})."""

    counts: dict[str, int] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)

    def note(self, kind: str, count: int, path: Path, root: Path) -> None:
        if count:
            self.counts[kind] = self.counts.get(kind, 0) + count
            relative = str(path.relative_to(root))
            if relative not in self.paths:
                self.paths.append(relative)

    def merge(self, other: Erased) -> None:
        for kind, count in other.counts.items():
            self.counts[kind] = self.counts.get(kind, 0) + count
        self.paths.extend(path for path in other.paths if path not in self.paths)


def set_aside_owner(obj: dict) -> str | None:
    """La conversation d'une ligne mise de côté : son champ, ou celui de l'objet rejeté."""
    owner = obj.get("session_id")
    if isinstance(owner, str):
        return owner
    inner = obj.get("object")
    return session_id_of(inner) if isinstance(inner, dict) else None


def erase_conversations(data_dir: Path, ids: set[str],
                        model: MessageModel | None = None) -> Erased:
    """Efface toute trace de ces conversations sous ``data_dir`` ; rend ce qui a été touché
    (rien si elles n'y sont déjà plus). ``model`` : le système (Crisp par défaut ; Ninja et
    Wanzo ont leur dossier, et pas de pièces jointes)."""
    return conversations_traces(Path(data_dir), ids, apply=True, model=model)


def conversations_traces(data_dir: Path, ids: set[str], apply: bool,
                         mentions: Callable[[str], bool] | None = None,
                         model: MessageModel | None = None) -> Erased:
    """Les traces de ces conversations, effacées si ``apply`` (sinon seulement comptées).
    ``mentions`` : une ligne illisible dont le texte répond vrai part aussi."""
    model = CRISP_MODEL if model is None else model
    crisp = model.folder == CRISP_MODEL.folder
    root, done = Path(data_dir), Erased()
    layout = ExportLayout(root, model.folder, model.listing_name)
    if not ids:
        return done
    for session_id in sorted(ids):
        name = model.file_name(session_id)
        if name is not None:
            for path in (layout.messages_dir / name,
                         layout.messages_dir / (name + UNREADABLE_SUFFIX)):
                if path.is_file():
                    if apply:
                        path.unlink()
                    done.note("fichiers de messages", 1, path, root)
        folder = layout.files_dir / session_dir(session_id)
        if crisp and folder.is_dir():
            if apply:
                shutil.rmtree(folder)
            done.note("répertoires de pièces jointes", 1, folder, root)
    done.note("entrées d'état", drop_from_messages_state(layout.messages_state, ids, apply),
              layout.messages_state, root)
    if crisp:
        count = filter_lines(layout.files_index, lambda obj: obj.get("session_id") in ids,
                              apply, mentions)
        done.note("lignes d'index des pièces jointes", count, layout.files_index, root)
        done.note("entrées d'état", drop_from_files_state(layout.files_state, ids, apply),
                  layout.files_state, root)
    for kind in ("conversation", "message"):
        path = layout.invalid(kind)
        count = filter_lines(path, lambda obj: set_aside_owner(obj) in ids, apply, mentions)
        done.note("lignes mises de côté", count, path, root)
    census = layout.census_log
    done.note("entrées du recensement en cours", drop_from_census(census, ids, apply), census,
              root)
    if crisp:
        done.merge(journal_traces(root, lambda data: data.get("session_id") in ids, apply,
                                  mentions, unsettled=ids))
    # En dernier : tant qu'elle est là, l'e-mail ou le people_id retrouve la conversation.
    count = filter_lines(layout.listing,
                          lambda obj: model.conversation_id(model.unwrap(obj)) in ids, apply,
                          mentions)
    done.note("conversations", count, layout.listing, root)
    return done


def erase_messages(data_dir: Path, keys: set[tuple[str, object]]) -> Erased:
    """Messages supprimés chez Crisp (``CRISP_REMOVED=erase``), à la fin du crawl : leurs
    pièces jointes (fichiers, lignes de l'index) et, si un arrêt brutal a devancé la
    réécriture par le magasin des messages, leur ligne du fichier de la conversation."""
    root, done, model = Path(data_dir), Erased(), CRISP_MODEL
    layout = ExportLayout(root)
    by_session: dict[str, set] = defaultdict(set)
    for session_id, key in keys:
        by_session[session_id].add(key)
    for session_id, wanted in sorted(by_session.items()):
        name = model.file_name(session_id)
        if name is not None:
            path = layout.messages_dir / name
            done.note("messages", filter_lines(path, _key_in(model, wanted)), path, root)
    if not layout.files_index.is_file():
        return done
    inside = os.path.realpath(root)
    for line in read_lines(layout.files_index, "Index des pièces jointes"):
        entry = line.obj
        if not isinstance(entry, dict) or (entry.get("session_id"), entry.get("fingerprint")) not in keys:
            continue
        target = os.path.realpath(root / str(entry.get("path", "")))
        # Jamais hors du répertoire de données, quoi que dise une ligne de l'index.
        if target.startswith(inside + os.sep) and os.path.isfile(target):
            os.unlink(target)
            done.note("pièces jointes", 1, Path(target), Path(inside))
    count = filter_lines(layout.files_index, lambda obj: (obj.get("session_id"), obj.get("fingerprint")) in keys)
    done.note("lignes d'index des pièces jointes", count, layout.files_index, root)
    done.merge(journal_traces(root, lambda data: (data.get("session_id"),
                                                  data.get("fingerprint")) in keys, True))
    return done


def _key_in(model: MessageModel, wanted: set) -> Callable[[dict], bool]:
    return lambda obj: model.message_key(obj) in wanted


def erase_profiles(data_dir: Path, people_ids: set[str]) -> Erased:
    """Ce qu'un arrêt brutal a laissé d'un profil supprimé chez Crisp (le magasin des profils
    retire déjà sa ligne à sa réécriture finale)."""
    root, done = Path(data_dir), Erased()
    path = ExportLayout(root).users
    if people_ids:
        count = filter_lines(path, lambda obj: profile_of(obj).get("people_id") in people_ids)
        done.note("profils", count, path, root)
        done.merge(journal_traces(root, lambda data: data.get("people_id") in people_ids, True))
    return done


def journal_traces(root: Path, drop: Callable[[dict], bool], apply: bool,
                   mentions: Callable[[str], bool] | None = None,
                   unsettled: frozenset[str] | set[str] = frozenset()) -> Erased:
    """Les événements du direct dont ``drop(data)`` est vrai, dans chaque fichier du journal
    (un nouveau numéro n'y reprend jamais un ancien : le journal retrouve le plus grand
    dans tous ses fichiers) ; et ``unsettled`` retirées des conversations à relire."""
    done, folder = Erased(), ExportLayout(root).journal_dir
    if not folder.is_dir():
        return done
    for path in sorted(folder.glob("*.jsonl")):
        count = filter_lines(path, lambda record: isinstance(record.get("data"), dict)
                             and drop(record["data"]), apply, mentions)
        done.note("événements du direct", count, path, root)
    state = StateFile(folder / JOURNAL_STATE, "État du journal des événements")
    waiting = state.load().get("unsettled") if unsettled else None
    if isinstance(waiting, dict) and unsettled & waiting.keys():
        gone = unsettled & waiting.keys()
        if apply:
            state.data["unsettled"] = {k: v for k, v in waiting.items() if k not in gone}
            state.save()
        done.note("conversations à relire", len(gone), state.path, root)
    return done
