"""Quelles conversations reçoivent des appels dans cette exécution, et dans quel ordre.

Règle (``plan``) :

1. d'abord les conversations incomplètes (pagination interrompue), là où elles en étaient ;
2. puis conversations.jsonl à partir du curseur, en boucle ; une conversation y est demandée
   si elle est **nouvelle** (jamais complétée), **changée** (son empreinte d'activité n'est
   plus celle notée quand son fichier a été complété), **récente** (dernière activité dans
   les ``CRISP_MESSAGES_LOOKBACK_DAYS`` derniers jours : une modification de message ne
   bouge peut-être pas l'empreinte, voir docs/api-crisp.md), ou si ``-a verify=1``
   demande de tout revérifier. Les autres ne coûtent **aucun appel** et ne comptent pas
   dans ``nb`` (nb = conversations qui reçoivent des appels).

Le curseur (``cursor.py``) retient où la boucle s'est arrêtée : des exécutions limitées par
``nb`` (ou un budget d'appels) finissent par passer sur tout le fichier.
"""

from __future__ import annotations

import heapq
import logging
import math
import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from itertools import chain, takewhile
from pathlib import Path

from crispscrape.sources.base import MessageModel
from crispscrape.sources.crisp import CRISP_MODEL
from crispscrape.paging.cursor import MessagesCursor
from crispscrape.storage.jsonl import read_lines

logger = logging.getLogger(__name__)

DAY_MS = 24 * 3600 * 1000

# Pourquoi une conversation reçoit des appels (statistiques ``messages/selected_<raison>``).
INCOMPLETE, NEW, CHANGED, FILE, LOOKBACK, VERIFY, UNKNOWN = (
    "incomplete", "new", "changed", "file_changed", "lookback", "verify", "no_marker")


@dataclass(frozen=True)
class Policy:
    """Ce qui mérite un appel en plus du nouveau et du changé."""

    verify: bool = False
    lookback_days: float = 7.0
    # Horloge (ms) : l'heure réelle, sauf dans les tests unitaires.
    now_ms: int = field(default_factory=lambda: int(time.time() * 1000))
    # Supprimées chez Crisp (registre storage/suppressions.py) : plus aucun appel.
    removed: frozenset[str] = frozenset()

    def reason(self, done: list | None, marker: str | None, activity: int | None,
               size: int | None) -> str | None:
        """Raison de demander la conversation, ou None si elle ne coûte aucun appel.

        ``done`` : [empreinte, taille] notés quand son fichier a été complété ; ``size`` :
        taille actuelle du fichier (None s'il n'existe pas)."""
        if not isinstance(done, list) or len(done) != 2:
            return NEW
        if marker is None:
            # La liste ne dit rien de l'activité (champ absent) : impossible de savoir.
            return UNKNOWN
        if done[0] != marker:
            return CHANGED
        if done[1] != size:
            # Fichier abîmé, tronqué ou effacé hors de l'export : on le refait.
            return FILE
        if self.verify:
            return VERIFY
        if self.lookback_days > 0 and activity is not None \
                and activity >= self.now_ms - self.lookback_days * DAY_MS:
            return LOOKBACK
        return None


def file_size(path: str) -> int | None:
    """Taille d'un fichier (None s'il n'existe pas) ; chemin en chaîne, sans pathlib (qui
    garderait chaque nom de fichier en mémoire : voir files.atomic_write_lines)."""
    try:
        return os.stat(path).st_size
    except FileNotFoundError:
        return None


@dataclass
class Listed:
    """Une ligne utilisable de conversations.jsonl."""

    index: int
    session_id: str
    marker: str | None
    activity: int | None
    # Clé de l'e-mail de la personne (meta.email), pour l'état des profils.
    email: str | None = None


def listed(path: Path, stats=None, model: MessageModel = CRISP_MODEL) -> Iterator[Listed]:
    """Lignes utilisables de la liste des conversations, en flux ; ``stats`` : signaler les
    autres."""
    index = 0
    if not path.is_file():
        return
    for line in read_lines(path, "Fichier des conversations"):
        conversation = model.unwrap(line.obj)
        session_id = model.conversation_id(conversation)
        if session_id is None:
            if stats is not None:
                stats.inc_value("messages/ignored_invalid_lines")
                logger.warning("conversations.jsonl, ligne %d ignorée : JSON illisible ou sans "
                               "session_id utilisable.", line.number)
            continue
        if model.file_name(session_id) is None:
            if stats is not None:
                stats.inc_value("messages/ignored_unsafe_ids")
                logger.warning("conversations.jsonl, ligne %d ignorée : session_id %r ne peut "
                               "pas servir de nom de fichier.", line.number, session_id[:80])
            continue
        yield Listed(index, session_id, model.marker(conversation), model.activity(conversation),
                     model.email(conversation))
        index += 1


def plan(cursor: MessagesCursor, path: Path, nb: int, stats, policy: Policy,
         directory: Path, model: MessageModel = CRISP_MODEL,
         size_of: Callable[[str], int | None] = file_size) -> Iterator[tuple[int | None, str]]:
    """(rang, session_id) des conversations à demander ; rang None : reprise d'une incomplète
    (hors du curseur). ``size_of`` : taille d'un fichier de messages, y compris celui qui
    n'est pas encore en place (storage/grouped.py)."""
    # Un compteur, pas l'ensemble des choisies : la mémoire ne doit pas grandir avec le compte.
    # Une conversation déjà choisie se reconnaît à son empreinte attendue (en cours) ou à sa
    # place parmi les incomplètes (reprise en tête, ou échouée : retentée à la prochaine).
    selected = 0
    if cursor.incomplete:
        # Empreintes des incomplètes (une lecture en flux), pour les noter une fois complétées.
        wanted = set(cursor.incomplete)
        markers = {c.session_id: c.marker for c in listed(path, model=model)
                   if c.session_id in wanted}
        for session_id in list(cursor.incomplete):
            if selected >= nb:
                return
            if model.file_name(session_id) and session_id not in policy.removed:
                selected += 1
                cursor.expect(session_id, markers.get(session_id))
                stats.inc_value(f"messages/selected_{INCOMPLETE}")
                yield None, session_id
    folder = os.fspath(directory)
    start = _start_index(cursor, path, model)
    first_pass = (c for c in listed(path, stats, model) if c.index >= start)
    # Le tour se boucle depuis le début du fichier, jusqu'au point de départ seulement.
    second_pass = takewhile(lambda c: c.index < start, listed(path, model=model)) \
        if start else iter(())
    rank = 0
    for conversation in chain(first_pass, second_pass):
        session_id = conversation.session_id
        if selected >= nb:
            cursor.selection_done(conversation.index, session_id)
            return
        cursor.track(rank, conversation.index, session_id)
        removed = session_id in policy.removed
        taken = cursor.in_flight(session_id) or session_id in cursor.incomplete
        why = None if taken or removed else policy.reason(
            cursor.done.get(session_id), conversation.marker, conversation.activity,
            size_of(f"{folder}/{model.file_name(session_id)}"))
        if removed:
            # Supprimée chez Crisp et gardée ici (CRISP_REMOVED=keep) : aucun appel.
            stats.inc_value("messages/ignored_removed")
            cursor.pass_over(rank)
        elif taken:
            # Ligne en double, ou conversation déjà reprise plus haut : rien à refaire.
            stats.inc_value("messages/ignored_duplicate_lines")
            cursor.pass_over(rank)
        elif why is None:
            # Complète et inchangée depuis : aucun appel, et nb n'est pas entamé.
            stats.inc_value("messages/unchanged")
            cursor.settle(rank, session_id, complete=True)
        else:
            selected += 1
            cursor.expect(session_id, conversation.marker)
            stats.inc_value(f"messages/selected_{why}")
            yield rank, session_id
        rank += 1
    if not rank and not selected:
        logger.warning("%s ne contient aucune conversation utilisable : rien à exporter.", path)
    # Tout le fichier a été parcouru : la prochaine exécution repart d'où celle-ci a commencé.
    cursor.selection_done(start if rank else 0, None)


def choose(cursor: MessagesCursor, path: Path, policy: Policy, targets: set[str] | None,
           directory: Path, model: MessageModel, size_of: Callable[[str], int | None]
           ) -> list[str]:
    """Le direct (spiders/live_refresh.py) : conversations à relire maintenant, chacune
    attendue avec son empreinte de la liste. ``targets`` : celles à régler après des
    événements (toutes relues) ; None : réconciliation, celles que ``policy`` désigne comme
    ``plan`` (nouvelles, changées, incomplètes, fenêtre). Jamais une déjà en cours."""
    folder, chosen, seen = os.fspath(directory), [], set()
    for conversation in listed(path, model=model):
        session_id = conversation.session_id
        if session_id in seen or session_id in policy.removed or cursor.in_flight(session_id):
            continue
        seen.add(session_id)
        if targets is not None:
            wanted = session_id in targets
        else:
            wanted = session_id in cursor.incomplete or policy.reason(
                cursor.done.get(session_id), conversation.marker, conversation.activity,
                size_of(f"{folder}/{model.file_name(session_id)}")) is not None
        if wanted:
            cursor.expect(session_id, conversation.marker)
            chosen.append(session_id)
    # Pas (encore) dans la liste : relue quand même, sans empreinte à noter.
    for session_id in sorted((targets or set()) - seen - policy.removed):
        if model.file_name(session_id) and not cursor.in_flight(session_id):
            cursor.expect(session_id, None)
            chosen.append(session_id)
    return chosen


def _start_index(cursor: MessagesCursor, path: Path, model: MessageModel) -> int:
    """Position du curseur, retrouvée par session_id si le fichier a été retrié."""
    wanted, saved = cursor.next_session_id, cursor.next_index
    if not wanted:
        return saved
    found = [c.index for c in listed(path, model=model) if c.session_id == wanted]
    if not found or saved in found:
        return saved
    # Fichier retrié : l'occurrence la plus proche de la position notée (doublons).
    return min(found, key=lambda index: abs(index - saved))


# Taille d'un lot de messages, et fichiers lus pour estimer les lots par conversation.
BATCH = 40
SAMPLE_FILES = 50


def mean_batches(directory: Path) -> float:
    """Lots de 40 par conversation, en moyenne, d'après quelques fichiers déjà exportés."""
    sizes = []
    try:
        with os.scandir(directory) as entries:
            # Les premiers noms seulement : la liste de tous coûterait un nom par conversation.
            names = heapq.nsmallest(SAMPLE_FILES, (entry.name for entry in entries
                                                   if entry.name.endswith(".jsonl")))
    except OSError:
        names = []
    for name in names:
        try:
            with open(os.path.join(directory, name), "rb") as handle:
                sizes.append(sum(1 for line in handle if line.strip()))
        except OSError:
            continue
    if not sizes:
        return 1.0
    return sum(max(1, math.ceil(size / BATCH)) for size in sizes) / len(sizes)
