"""La personne d'une demande d'oubli retrouvée dans l'export, et ce qu'elle y laisse hors de
ses conversations (forget/erase.py) : profils dans utilisateurs.jsonl, e-mails
de l'état des utilisateurs, fiches et conversations mises de côté. ``apply=False`` compte
sans rien toucher (``--dry-run``)."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from crispscrape.forget.erase import Erased, journal_traces, set_aside_owner
from crispscrape.forget.targets import Targets
from crispscrape.model import EMAIL, SESSION, conversation_keys, normalise, profile_keys, session_id_of, unwrap
from crispscrape.storage.erase import filter_lines
from crispscrape.storage.files import StateFile
from crispscrape.storage.jsonl import read_lines
from crispscrape.storage.layout import REPORT_NAME, ExportLayout


def find(data_dir: Path, targets: Targets) -> tuple[Targets, set[str]]:
    """La demande complétée et les conversations qu'elle désigne.

    Un seul pas, par la personne (jamais par un session_id donné) : les people_id des
    profils et conversations de ses e-mails, les e-mails des profils et conversations de
    ses people_id. Lu en flux : la mémoire ne dépend pas de la taille de l'export."""
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


def person_traces(data_dir: Path, targets: Targets, ids: set[str], apply: bool) -> Erased:
    """Ce que la personne laisse hors de ses conversations (``ids``, effacées à part), dont
    les conversations mises de côté qui la nomment sans session_id utilisable."""
    layout, root, done = ExportLayout(Path(data_dir)), Path(data_dir), Erased()
    path = layout.invalid("conversation")
    count = filter_lines(path, lambda obj: set_aside_owner(obj) not in ids
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
    # Événements du direct qui la nomment (profil, e-mail, people_id) hors de ses conversations.
    done.merge(journal_traces(root, lambda data: targets.profile_matches(data)
                              or targets.conversation_matches(data), apply,
                              targets.mentioned_in))
    return done


def _forget_in_users_state(path: Path, targets: Targets, apply: bool) -> int:
    """E-mails sans fiche (``not_found``) et adresses liées (``aliases``) de la personne."""
    state = StateFile(path, "Fichier d'état des utilisateurs")
    data = state.load()
    not_found, aliases = data.get("not_found"), data.get("aliases")
    count = 0

    def hers(email: Any) -> bool:
        return isinstance(email, str) and bool(email.strip()) \
            and normalise(EMAIL, email) in targets.emails

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


def analysis_outdated(layout: ExportLayout) -> bool:
    """Vrai si ``analyse/`` existe et n'a pas été reconstruite depuis le dernier oubli ou la
    dernière suppression notés (arrêt brutal pendant sa reconstruction, ou échec) : elle peut
    garder ce qui a été effacé. Le rapport HTML est écrit en dernier par ``scrapy report``."""
    if not layout.analysis_dir.is_dir():
        return False
    try:
        built = os.stat(layout.analysis_dir / REPORT_NAME).st_mtime_ns
    except OSError:
        return True
    noted = [os.stat(path).st_mtime_ns for path in (layout.forgotten, layout.suppressions)
             if path.is_file()]
    return bool(noted) and built <= max(noted)
