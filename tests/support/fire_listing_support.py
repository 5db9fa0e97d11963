"""Outils des recettes « sous le feu » des exports de listes : conversations et utilisateurs.

Tout est observé de l'extérieur, sans crochet dans le code de production :

- déclencheurs d'arrêt propres aux fichiers d'une liste (``FileChanged``, ``TempFile``),
  nourris par les événements inotify du répertoire de l'export ;
- ``read_snapshot`` : lit un fichier JSONL tel qu'il est sur le disque, même juste après
  un SIGKILL (lignes complètes, fragment final éventuel, lignes illisibles) ;
  ``ListingInspection`` et ``start_inspection`` : le fichier et son état, lus sans
  confiance, point de départ des inspections de chaque export ;
- petits utilitaires : forme canonique d'un objet, compteurs de statuts du bac à sable,
  remise à zéro des pannes, réessais par raison.

Les déclencheurs génériques (``Calls``, ``Delay``), ``interrupt`` et les vérifications
communes à toutes les recettes sont dans tests/support/interrupting.py.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.interrupting import (
    IN_CLOSE_WRITE,
    IN_MODIFY,
    IN_MOVED_TO,
    TempFileCreated,
    WatchTrigger,
    load_state,
)


def canonical(obj) -> str:
    """Forme canonique d'un objet JSON, pour comparer des objets exactement."""
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)


# --- Déclencheurs d'arrêt -------------------------------------------------------------
class FileChanged(WatchTrigger):
    """``after`` secondes après le DÉBUT du n-ième changement d'un fichier : un ajout de
    lignes (première écriture d'un ajout, qui se termine à la fermeture du fichier) ou un
    remplacement atomique (renommage du fichier temporaire : une sauvegarde d'état)."""

    def __init__(self, relative: str, what: str, after: float = 0.0, nth: int = 1):
        self.relative_dir, self.name = os.path.split(relative)
        self.after, self.nth = after, nth
        rank = "" if nth == 1 else f"{nth}e "
        self.description = (f"dès le {rank}changement {what}" if not after else
                            f"{after * 1000:.1f} ms après le {rank}changement {what}")

    def arm(self, sandbox, data_dir):
        super().arm(sandbox, data_dir)
        self.changes, self.writing = 0, False

    def event(self, mask, name):
        if name != self.name:
            return False
        started = False
        if mask & IN_MODIFY and not self.writing:
            self.writing, started = True, True
        elif mask & IN_MOVED_TO:
            started = not self.writing
            self.writing = False
        elif mask & IN_CLOSE_WRITE:
            self.writing = False
        if started:
            self.changes += 1
        return started and self.changes >= self.nth


class TempFile(TempFileCreated):
    """Dès la création du n-ième fichier temporaire de l'écriture atomique de ``name`` :
    le processus meurt en pleine réécriture, avant le os.replace."""

    def __init__(self, relative_dir: str, name: str, what: str, nth: int = 1):
        self.relative_dir, self.name, self.nth = relative_dir, name, nth
        rank = "" if nth == 1 else f" (la {nth}e)"
        self.description = f"pendant la réécriture atomique {what}{rank}"

    def matches(self, candidate: str) -> bool:
        # « .conversations.jsonl.state.json.X.tmp » commence aussi par
        # « .conversations.jsonl. » : on écarte l'état quand on vise le fichier de données.
        if not (candidate.startswith(f".{self.name}.") and candidate.endswith(".tmp")):
            return False
        rest = candidate[len(self.name) + 2:]
        return self.name.endswith(".state.json") or not rest.startswith("state.json.")


# --- Lecture d'un fichier sur le disque --------------------------------------------------
@dataclass
class Snapshot:
    """Un fichier JSONL tel qu'il est sur le disque."""

    objects: list = field(default_factory=list)
    # Dernière ligne sans saut de ligne final (ajout coupé par un SIGKILL), sinon None.
    fragment: bytes | None = None
    problems: list[str] = field(default_factory=list)


def read_snapshot(path: Path) -> Snapshot:
    """Lignes complètes décodées ; une ligne complète illisible est un problème."""
    found = Snapshot()
    if not path.exists():
        return found
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    if lines[-1]:
        found.fragment = lines[-1]
    for number, line in enumerate(lines[:-1], start=1):
        try:
            found.objects.append(json.loads(line.decode("utf-8")))
        except ValueError:
            found.problems.append(f"{path.name}, ligne {number} complète mais illisible : "
                                  f"{line[:80]!r}")
    return found


@dataclass
class ListingInspection:
    """Le fichier d'une liste et son état à un instant donné, avec les problèmes trouvés ;
    chaque export en dérive son inspection (identifiants lus, etc.)."""

    snapshot: Snapshot
    state: dict | None
    problems: list[str] = field(default_factory=list)


def start_inspection(kind: type, data_dir: Path, data: str, state: str):
    """Une inspection ``kind`` (dérivée de ``ListingInspection``) du fichier ``data`` et de
    l'état ``state`` (relatifs à ``data_dir``) : lignes illisibles et état invalide sont
    déjà notés ; à l'appelant de juger les objets lus."""
    snapshot = read_snapshot(data_dir / data)
    loaded, state_problem = load_state(data_dir / state)
    found = kind(snapshot, loaded, problems=list(snapshot.problems))
    if state_problem:
        found.problems.append(state_problem)
    return found


# --- Bac à sable et statistiques ---------------------------------------------------------
def statuses(sandbox) -> dict[str, int]:
    """Réponses du bac à sable par statut (« reset » = connexion coupée sans réponse)."""
    return sandbox.admin("/_admin/stats")["by_status"]


def reset_sandbox(sandbox, **faults) -> None:
    """Pannes et compteurs remis à zéro, quota compris, puis ``faults`` appliquées."""
    sandbox.admin("/_admin/faults/reset", method="POST")
    sandbox.admin("/_admin/quota/reset", method="POST")
    sandbox.admin("/_admin/stats/reset", method="POST")
    if faults:
        sandbox.admin("/_admin/faults", method="POST", json=faults)


def retry_reasons(stats: dict) -> dict[str, int]:
    """Réessais par raison, d'après les statistiques Scrapy (``retry/reason_count/...``)."""
    prefix = "retry/reason_count/"
    return {k[len(prefix):]: v for k, v in stats.items() if k.startswith(prefix)}
