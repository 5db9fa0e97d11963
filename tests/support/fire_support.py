"""Outils des recettes « sous le feu » de l'export des messages : arrêts brutaux, pannes,
entrées abîmées.

- ``Truth`` : la vérité du bac à sable (messages triés comme dans les fichiers), relue
  à la demande quand des messages ont été ajoutés ;
- ``inspect_export`` : vérifie un répertoire de messages à n'importe quel moment (même
  juste après un SIGKILL) : lignes complètes et lisibles, fichiers triés, sans doublon,
  chaque fichier est une tranche contiguë de la vérité, complet s'il n'est pas noté
  « incomplete » dans l'état, état en JSON valide ;
- déclencheurs d'arrêt propres aux messages (``TempFile``, ``StateChanged``,
  ``Throttled``, ``SessionCalls``) et ``interrupt_messages`` : ``interrupt`` appliqué à
  ``scrapy crawl messages``.

Les déclencheurs génériques (``Calls``, ``Delay``), ``interrupt`` lui-même et les
vérifications communes à toutes les recettes sont dans tests/support/interrupting.py.

Rien ici ne touche au code de production : les moments sont observés de l'extérieur
(compteurs du bac à sable, fichiers du répertoire de données).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.interrupting import (
    CounterReached,
    Interrupted,
    TempFileCreated,
    Trigger,
    interrupt,
    is_temp,
    load_state,
)
from tests.support.messages_support import write_conversations

# Répertoire des messages, relatif au répertoire de données.
MESSAGES_FOLDER = "conversations/messages"
STATE_NAME = "messages.jsonl.state.json"
ASIDE_SUFFIX = ".lignes-illisibles"
# Après le signal, délai laissé au crawl des messages pour s'arrêter.
STOP_TIMEOUT = 15


def messages_dir(data_dir: Path) -> Path:
    return Path(data_dir) / MESSAGES_FOLDER


def state_path(data_dir: Path) -> Path:
    return messages_dir(data_dir) / STATE_NAME


def sort_key(message: dict):
    return message["timestamp"], message["fingerprint"]


# --- Vérité du bac à sable ------------------------------------------------------------
class Truth:
    """Messages attendus par conversation, du plus récent au plus ancien."""

    def __init__(self, sandbox, session_ids, listing: Path | None = None):
        self.sandbox = sandbox
        self.session_ids = list(session_ids)
        # Répertoire de données dont conversations.jsonl suit l'activité (comme l'export des
        # conversations l'aurait relevée) : sans cela, des messages ajoutés ne changent pas
        # l'empreinte d'activité et l'export des messages n'a aucune raison de les demander.
        self.listing = listing
        self.messages: dict[str, list[dict]] = {}
        self.refresh()
        # Conversations vides au départ : un fichier vide reste pour elles un état passé
        # exact (les messages ajoutés ensuite sont tous plus récents).
        self.initially_empty = {s for s, messages in self.messages.items() if not messages}

    def refresh(self, session_ids=None) -> None:
        """Relit la vérité (après un ajout de messages par l'administration)."""
        for session_id in session_ids or self.session_ids:
            messages = self.sandbox.admin(f"/_admin/truth/messages/{session_id}")
            self.messages[session_id] = sorted(messages, key=sort_key, reverse=True)

    def add_messages(self, session_id: str, count: int) -> None:
        """Ajoute des messages (les plus récents) à une conversation du bac à sable."""
        self.sandbox.admin(f"/_admin/conversations/{session_id}/messages", method="POST",
                           json={"count": count})
        self.refresh([session_id])
        if self.listing is not None:
            write_conversations(self.sandbox, self.listing)


# --- Inspection d'un export -------------------------------------------------------------
@dataclass
class Inspection:
    """Ce qu'on trouve dans le répertoire des messages à un instant donné."""

    complete: set[str] = field(default_factory=set)
    partial: set[str] = field(default_factory=set)
    temp_files: list[str] = field(default_factory=list)
    state: dict | None = None
    problems: list[str] = field(default_factory=list)


def read_state(data_dir: Path) -> dict:
    return json.loads(state_path(data_dir).read_text(encoding="utf-8"))


def _check_state(path: Path, truth: Truth, found: Inspection) -> None:
    state, problem = load_state(path)
    if problem:
        found.problems.append(problem)
    if state is None:
        return
    found.state = state
    if not isinstance(state.get("next_index"), int) or state["next_index"] < 0:
        found.problems.append(f"next_index invalide : {state!r}")
    if state.get("next_session_id") not in (None, *truth.session_ids):
        found.problems.append(f"next_session_id inconnu : {state['next_session_id']!r}")
    incomplete = state.get("incomplete")
    if not isinstance(incomplete, dict) or not set(incomplete) <= set(truth.session_ids):
        found.problems.append(f"incomplete invalide : {incomplete!r}")


def _check_file(path: Path, expected: list[dict], complete: bool, found: Inspection,
                was_empty: bool) -> bool:
    """Vrai si le fichier est exactement la fin de la vérité (toutes les plus anciennes)."""
    name = path.name
    raw = path.read_bytes()
    if raw and not raw.endswith(b"\n"):
        found.problems.append(f"{name} : dernière ligne incomplète")
    messages = []
    for number, line in enumerate(raw.decode("utf-8").splitlines(), start=1):
        try:
            messages.append(json.loads(line))
        except ValueError:
            found.problems.append(f"{name}, ligne {number} illisible : {line[:80]!r}")
            return False
    fingerprints = [m.get("fingerprint") for m in messages]
    if len(set(fingerprints)) != len(fingerprints):
        found.problems.append(f"{name} : messages en double")
    if messages != sorted(messages, key=sort_key, reverse=True):
        found.problems.append(f"{name} : ordre du plus récent au plus ancien non respecté")
    if not messages:
        if expected and complete and not was_empty:
            found.problems.append(f"{name} : vide alors qu'il est noté complet")
        return not expected or was_empty
    # Une tranche contiguë de la vérité : les messages ajoutés depuis manquent en tête,
    # jamais au milieu ; un fichier complet va jusqu'au tout premier message.
    start = next((i for i, m in enumerate(expected) if m == messages[0]), None)
    if start is None or expected[start:start + len(messages)] != messages:
        found.problems.append(f"{name} : pas une tranche contiguë et exacte de la vérité "
                              f"({len(messages)} messages)")
        return False
    reaches_first = start + len(messages) == len(expected)
    if complete and not reaches_first:
        found.problems.append(f"{name} : noté complet mais il manque les "
                              f"{len(expected) - start - len(messages)} plus anciens messages")
    return reaches_first


def inspect_export(data_dir: Path, truth: Truth) -> Inspection:
    """Vérifie les invariants d'un export, même interrompu ; rien n'est modifié."""
    found = Inspection()
    directory = messages_dir(data_dir)
    if not directory.exists():
        return found
    if state_path(data_dir).exists():
        _check_state(state_path(data_dir), truth, found)
    incomplete = (found.state or {}).get("incomplete") or {}
    for entry in sorted(directory.iterdir()):
        name = entry.name
        if name == STATE_NAME:
            continue
        if is_temp(name):
            found.temp_files.append(name)
            continue
        session_id = name[:-len(".jsonl")] if name.endswith(".jsonl") else None
        if session_id not in truth.messages or not entry.is_file():
            found.problems.append(f"entrée inattendue dans {directory} : {name}")
            continue
        complete = session_id not in incomplete
        if _check_file(entry, truth.messages[session_id], complete, found,
                       session_id in truth.initially_empty):
            found.complete.add(session_id)
        else:
            found.partial.add(session_id)
    return found


def tree_snapshot(directory: Path) -> dict:
    """Contenu exact de tous les fichiers (et répertoires) sous ``directory``."""
    result = {}
    for path in sorted(Path(directory).rglob("*")):
        key = str(path.relative_to(directory))
        result[key] = path.read_bytes() if path.is_file() else "<dir>"
    return result


# --- Déclencheurs d'arrêt propres aux messages ------------------------------------------
class SessionCalls(CounterReached):
    """Après le n-ième appel sur une conversation donnée (pagination en cours)."""

    def __init__(self, session_id: str, count: int):
        self.session_id, self.count = session_id, count
        self.description = f"pendant la pagination d'une longue conversation (appel {count})"

    def counter(self):
        return self.sandbox.admin("/_admin/stats")["calls_by_session"].get(self.session_id, 0)


class Throttled(CounterReached):
    """Après n refus de débit (429/420) : des requêtes attendent leur recul."""

    def __init__(self, count: int, status: str = "429"):
        self.count, self.status = count, status
        self.description = f"pendant le ralentissement (après {count} refus {status})"

    def counter(self):
        return self.sandbox.admin("/_admin/stats")["by_status"].get(self.status, 0)


class TempFile(TempFileCreated):
    """Dès qu'un fichier temporaire d'écriture atomique apparaît dans le répertoire des
    messages (événement inotify, rien n'est manqué) : arrêt en pleine écriture.

    ``kind`` : "state" (fichier d'état) ou "message" (fichier d'une conversation, ou
    seulement celui de ``session_id``).
    """

    relative_dir = MESSAGES_FOLDER

    def __init__(self, kind: str, session_id: str | None = None):
        self.kind, self.session_id = kind, session_id
        what = "du fichier d'état" if kind == "state" else (
            "du fichier d'une longue conversation" if session_id else "d'un fichier de messages")
        self.description = f"pendant l'écriture {what}"

    def matches(self, name: str) -> bool:
        if self.kind == "state":
            return name.startswith(f".{STATE_NAME}.")
        if self.session_id:
            return name.startswith(f".{self.session_id}.jsonl.")
        return not name.startswith(f".{STATE_NAME}.")


class StateChanged(Trigger):
    """Un court délai (tiré d'une graine) après le premier changement du fichier d'état."""

    interval = 0.0005

    def __init__(self, delay: float):
        self.delay = delay
        self.description = f"{delay * 1000:.1f} ms après une sauvegarde de l'état"
        self.changed_at = None

    def _identity(self):
        try:
            stat = state_path(self.data_dir).stat()
        except FileNotFoundError:
            return None
        return stat.st_ino, stat.st_mtime_ns

    def arm(self, sandbox, data_dir):
        super().arm(sandbox, data_dir)
        self.initial = self._identity()

    def ready(self):
        if self.changed_at is None:
            if self._identity() != self.initial:
                self.changed_at = time.monotonic()
            return False
        return time.monotonic() - self.changed_at >= self.delay


# --- Arrêt d'un vrai crawl des messages -------------------------------------------------
def interrupt_messages(sandbox, data_dir: Path, trigger: Trigger, **options) -> Interrupted:
    """``interrupt`` appliqué à ``scrapy crawl messages`` : fichiers temporaires surveillés
    dans le répertoire des messages ; après le signal, ``STOP_TIMEOUT`` secondes au plus
    pour s'arrêter, sauf ``stop_timeout`` donné. Autres options : celles d'``interrupt``."""
    options.setdefault("stop_timeout", STOP_TIMEOUT)
    return interrupt("messages", sandbox, data_dir, trigger, MESSAGES_FOLDER, **options)
