"""Les effacements primitifs d'un export : retirer des lignes d'un fichier JSONL, ou des
conversations d'un fichier d'état, réécrit d'un coup (un arrêt brutal laisse l'ancien ou le
nouveau). ``apply=False`` compte sans rien toucher (``--dry-run``). Où une conversation, un
message ou un profil laisse des traces, et quand les effacer : crispscrape/forget/.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path

from crispscrape.storage.cursor import MessagesState
from crispscrape.storage.files import atomic_write_json, atomic_write_lines, dumps_line, read_json
from crispscrape.storage.jsonl import read_lines


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
            kept.append(line.full)
    if removed and apply:
        atomic_write_lines(path, kept)
    return removed


def drop_from_messages_state(path: Path, ids: Iterable[str], apply: bool) -> int:
    if not path.is_file():
        return 0
    cursor = MessagesState(path)
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


def drop_from_files_state(path: Path, ids: set[str], apply: bool) -> int:
    state = read_json(path, "État des pièces jointes")
    scanned = state.get("scanned") if isinstance(state, dict) else None
    if not isinstance(scanned, dict):
        return 0
    count = len([scanned.pop(session_id) for session_id in ids if session_id in scanned])
    if count and apply:
        atomic_write_json(path, state, compact=True)  # comme AttachmentIndex.close
    return count


def drop_from_census(path: Path, ids: set[str], apply: bool) -> int:
    """Journal d'un recensement en cours : des listes de session_id, une par page vue."""
    if not path.is_file():
        return 0
    lines, removed = [], 0
    for line in read_lines(path, "Journal du recensement"):
        if not isinstance(line.obj, list):
            lines.append(line.full)
            continue
        kept = [session_id for session_id in line.obj if session_id not in ids]
        removed += len(line.obj) - len(kept)
        if kept:
            lines.append(dumps_line(kept) if len(kept) < len(line.obj) else line.full)
    if removed and apply:
        atomic_write_lines(path, lines)
    return removed
