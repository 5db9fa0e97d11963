"""Effacer des conversations, et une personne, de tous les fichiers d'un export Crisp.

Ce que laisse une conversation sous ``{DATA}`` (chemins de ``layout.py``) : sa ligne de
conversations.jsonl, son fichier de messages (et ses lignes illisibles mises de côté,
``.lignes-illisibles``), ses entrées dans l'état des messages, ses pièces jointes (répertoire
et lignes de l'index, entrée de l'état du balayage), ses lignes mises de côté par la
validation (*.invalides.jsonl), sa place dans le journal d'un recensement en cours et ses
lignes dans ``analyse/``. Une personne (``scrapy forget``) laisse en plus ses profils dans
utilisateurs.jsonl, son e-mail dans l'état des utilisateurs et ses fiches mises de côté.
Tout part ici, en un seul endroit, pour l'extension des suppressions (fin d'un crawl) comme
pour ``scrapy forget`` ; ``apply=False`` compte sans rien toucher (``--dry-run``).

Quand : toujours APRÈS que le registre des suppressions les nomme (storage/suppressions.py)
et seulement quand aucun magasin n'est ouvert (fin du crawl, ou scrapy forget, sous le
verrou du site) : un seul écrivain par fichier. Chaque fichier réécrit l'est d'un coup
(temporaire, fsync, os.replace) : un arrêt brutal laisse l'ancien ou le nouveau, et
l'effacement, idempotent, est refait tant qu'il reste une trace. La ligne de la liste part
en DERNIER : interrompu, l'effacement retrouve encore la conversation par l'e-mail.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crispscrape.file_refs import session_dir
from crispscrape.model import session_id_of, unwrap
from crispscrape.sources.base import MessageModel
from crispscrape.sources.crisp import CRISP_MODEL
from crispscrape.storage.cursor import MessagesCursor
from crispscrape.storage.files import (
    StateFile, atomic_write_json, atomic_write_lines, dumps_line, read_json,
)
from crispscrape.storage.forgotten import (
    SESSION, Targets, conversation_keys, normalise, profile_keys,
)
from crispscrape.storage.jsonl import read_lines
from crispscrape.storage.layout import ExportLayout

# Suffixe des lignes illisibles d'un fichier de messages, gardées à côté (storage/messages.py).
UNREADABLE_SUFFIX = ".lignes-illisibles"


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
    done.note("entrées d'état", _forget_in_messages_state(layout.messages_state, ids, apply),
              layout.messages_state, root)
    if crisp:
        count = filter_lines(layout.files_index, lambda obj: obj.get("session_id") in ids,
                              apply, mentions)
        done.note("lignes d'index des pièces jointes", count, layout.files_index, root)
        done.note("entrées d'état", _forget_in_files_state(layout.files_state, ids, apply),
                  layout.files_state, root)
    for kind in ("conversation", "message"):
        path = layout.invalid(kind)
        count = filter_lines(path, lambda obj: _owner(obj) in ids, apply, mentions)
        done.note("lignes mises de côté", count, path, root)
    census = layout.census_log
    done.note("entrées du recensement en cours", _forget_in_census(census, ids, apply), census,
              root)
    # En dernier : tant qu'elle est là, l'e-mail ou le people_id retrouve la conversation.
    count = filter_lines(layout.listing,
                          lambda obj: model.conversation_id(model.unwrap(obj)) in ids, apply,
                          mentions)
    done.note("conversations", count, layout.listing, root)
    return done


def person_traces(data_dir: Path, targets: Targets, ids: set[str], apply: bool) -> Erased:
    """Ce que la personne laisse hors de ses conversations (``ids``, effacées à part) :
    profils, e-mails de l'état des utilisateurs, fiches mises de côté, et conversations mises
    de côté qui la nomment sans session_id utilisable."""
    layout, root, done = ExportLayout(Path(data_dir)), Path(data_dir), Erased()
    path = layout.invalid("conversation")
    count = filter_lines(path, lambda obj: _owner(obj) not in ids
                          and targets.conversation_matches(obj.get("object")), apply)
    done.note("lignes mises de côté", count, path, root)
    path = layout.invalid("profile")
    count = filter_lines(path, lambda obj: targets.profile_matches(obj.get("object")), apply,
                          targets.mentioned_in)
    done.note("lignes mises de côté", count, path, root)
    done.note("e-mails de l'état des utilisateurs",
              _forget_in_users_state(layout.users_state, targets, apply), layout.users_state,
              root)
    count = filter_lines(layout.users, targets.profile_matches, apply, targets.mentioned_in)
    done.note("profils", count, layout.users, root)
    return done


def find(data_dir: Path, targets: Targets) -> tuple[Targets, set[str]]:
    """La demande complétée et les conversations qu'elle désigne.

    Un seul pas, par la personne (jamais par un session_id donné) : les people_id des
    profils et conversations de ses e-mails, les e-mails des profils et conversations de
    ses people_id. Conversations : lignes de la liste et conversations mises de côté, lues
    en flux (la mémoire ne dépend pas de la taille de l'export)."""
    layout = ExportLayout(Path(data_dir))
    person = Targets(set(targets.emails), set(targets.people))
    found = Targets(set(targets.emails), set(targets.people), set(targets.sessions))

    def conversations() -> Iterator[Any]:
        yield from _objects(layout.listing, unwrap)
        yield from _objects(layout.invalid("conversation"), _inner)

    if person.emails or person.people:
        for conversation in conversations():
            if person.conversation_matches(conversation):
                for kind, value in conversation_keys(conversation):
                    if kind != SESSION:
                        found.add(kind, value)
        for path, extract in ((layout.users, None), (layout.invalid("profile"), _inner)):
            for profile in _objects(path, extract):
                if person.profile_matches(profile):
                    for kind, value in profile_keys(profile):
                        found.add(kind, value)
    ids = {session_id for conversation in conversations()
           if found.conversation_matches(conversation)
           and (session_id := session_id_of(conversation)) is not None}
    return found, ids | found.sessions


def _inner(obj: dict) -> Any:
    return unwrap(obj.get("object"))


def _objects(path: Path, extract: Callable[[dict], Any] | None) -> Iterator[Any]:
    if not path.is_file():
        return
    for line in read_lines(path, str(path.name)):
        if isinstance(line.obj, dict):
            yield extract(line.obj) if extract is not None else line.obj


def _owner(obj: dict) -> str | None:
    """La conversation d'une ligne mise de côté : son champ, ou celui de l'objet rejeté."""
    owner = obj.get("session_id")
    if isinstance(owner, str):
        return owner
    inner = obj.get("object")
    return session_id_of(inner) if isinstance(inner, dict) else None


def filter_lines(path: Path, drop: Callable[[dict], bool], apply: bool = True,
                  mentions: Callable[[str], bool] | None = None) -> int:
    """Réécrit ``path`` sans les lignes (objets JSON) que ``drop`` désigne ; les autres
    lignes, même illisibles, restent telles quelles, sauf celles que ``mentions`` désigne.
    Rend le nombre de lignes retirées (ou à retirer, sans ``apply``)."""
    if not path.is_file():
        return 0
    kept: list[str] = []
    removed = 0
    for line in read_lines(path, str(path.name)):
        if isinstance(line.obj, dict) and drop(line.obj) \
                or line.obj is None and mentions is not None and mentions(line.text):
            removed += 1
        else:
            kept.append(line.text if line.text.endswith("\n") else line.text + "\n")
    if removed and apply:
        atomic_write_lines(path, kept)
    return removed


def _forget_in_messages_state(path: Path, ids: Iterable[str], apply: bool) -> int:
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
    if count and apply:
        cursor.save()
    return count


def _forget_in_files_state(path: Path, ids: set[str], apply: bool) -> int:
    state = read_json(path, "État des pièces jointes")
    scanned = state.get("scanned") if isinstance(state, dict) else None
    if not isinstance(scanned, dict):
        return 0
    count = 0
    for session_id in ids:
        if session_id in scanned:
            del scanned[session_id]
            count += 1
    if count and apply:
        atomic_write_json(path, state, compact=True)  # comme FileIndex.close
    return count


def _forget_in_census(path: Path, ids: set[str], apply: bool) -> int:
    """Journal d'un recensement en cours : des listes de session_id, une par page vue."""
    if not path.is_file():
        return 0
    lines, removed = [], 0
    for line in read_lines(path, "Journal du recensement"):
        if not isinstance(line.obj, list):
            lines.append(line.text if line.text.endswith("\n") else line.text + "\n")
            continue
        kept = [session_id for session_id in line.obj if session_id not in ids]
        removed += len(line.obj) - len(kept)
        if kept:
            lines.append(dumps_line(kept) if len(kept) < len(line.obj) else
                         line.text if line.text.endswith("\n") else line.text + "\n")
    if removed and apply:
        atomic_write_lines(path, lines)
    return removed


def _forget_in_users_state(path: Path, targets: Targets, apply: bool) -> int:
    """E-mails sans fiche (``not_found``) et adresses liées (``aliases``) de la personne."""
    state = StateFile(path, "Fichier d'état des utilisateurs")
    data = state.load()
    not_found, aliases = data.get("not_found"), data.get("aliases")
    count = 0

    def hers(email: Any) -> bool:
        return isinstance(email, str) and bool(email.strip()) \
            and normalise("email", email) in targets.emails

    if isinstance(not_found, list):
        data["not_found"] = [email for email in not_found if not hers(email)]
        count += len(not_found) - len(data["not_found"])
    if isinstance(aliases, dict):
        data["aliases"] = {key: value for key, value in aliases.items()
                           if not hers(key) and not hers(value)}
        count += len(aliases) - len(data["aliases"])
    if count and apply:
        state.save()
    return count
