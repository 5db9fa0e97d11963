"""LE lecteur de fichiers JSONL du projet, et sa politique de tolérance, écrite une fois.

Décodage, identique pour tous (``read_lines``) : une marque BOM en tête (laissée par certains
éditeurs) est ignorée ; une ligne qui n'est pas de l'UTF-8 (un octet latin-1 venu d'un autre
outil) est lue en latin-1, où chaque octet garde un caractère : rien n'est remplacé ni perdu ;
les lignes vides sont sautées ; une ligne qui n'est pas du JSON est rendue avec ``obj = None``.

Ce qu'en font les appelants : conversations.jsonl et utilisateurs.jsonl, complétés par ajouts
(``load_and_repair``), refusent une ligne illisible AU MILIEU (le message la nomme, rien n'est
modifié) et retirent la DERNIÈRE, trace d'un arrêt brutal, par réécriture atomique ;
conversations.jsonl lu comme entrée (messages, users) l'ignore en la signalant ; un fichier de
messages la met de côté (``.lignes-illisibles``) et la conversation est reprise au début.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crispscrape.storage.files import StorageError, append_lines, atomic_write_lines
from crispscrape.oserrors import os_reason

BOM = b"\xef\xbb\xbf"


@dataclass
class JsonlLine:
    number: int
    # Objet décodé, ou None si la ligne n'est pas du JSON.
    obj: Any
    # Texte de la ligne (saut de ligne final compris s'il y était).
    text: str
    # Vrai si la ligne n'était pas de l'UTF-8 et a été lue en latin-1.
    recoded: bool = False


def read_lines(path: Path | str, what: str) -> Iterator[JsonlLine]:
    """Parcourt un fichier JSONL en flux (la mémoire ne dépend pas de sa taille)."""
    try:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if number == 1 and raw.startswith(BOM):
                    raw = raw[len(BOM):]
                if not raw.strip():
                    continue
                try:
                    text, recoded = raw.decode("utf-8"), False
                except UnicodeDecodeError:
                    text, recoded = raw.decode("latin-1"), True
                try:
                    obj = json.loads(text)
                except ValueError:
                    obj = None
                yield JsonlLine(number, obj, text, recoded)
    except OSError as exc:
        raise StorageError(f"{what} illisible ({path}) : {os_reason(exc)}.") from exc


@dataclass
class JsonlContent:
    lines: list[JsonlLine] = field(default_factory=list)
    # Fragment retiré (dernière ligne tronquée), None s'il n'y en avait pas.
    fragment: str | None = None
    # Vrai si le fichier doit être réécrit pour être normalisé (BOM, latin-1).
    normalise: bool = False


def load_and_repair(path: Path, what: str, logger: logging.Logger) -> JsonlContent:
    """Lit un fichier complété par ajouts (absent = vide) et répare sa fin si besoin."""
    content = JsonlContent()
    if not path.exists():
        return content
    pending: JsonlLine | None = None  # ligne illisible pas encore suivie d'une autre
    with open(path, "rb") as handle:
        content.normalise = handle.read(len(BOM)) == BOM
    for line in read_lines(path, what):
        if pending is not None:
            raise StorageError(
                f"{what} : la ligne {pending.number} de {path} est illisible (JSON invalide) "
                "alors que d'autres lignes la suivent. Le fichier n'a pas été modifié ; corrigez "
                "ou supprimez cette ligne, ou relancez avec -a reset=1 pour repartir de zéro."
            )
        if line.obj is None:
            pending = line
            continue
        content.normalise = content.normalise or line.recoded
        content.lines.append(line)
    if pending is not None:
        content.fragment = pending.text
        logger.warning(
            "%s : la dernière ligne de %s (ligne %d, %d caractères) est tronquée, sans doute un "
            "arrêt brutal pendant l'écriture. Elle est retirée ; les %d lignes complètes sont "
            "conservées et l'élément concerné sera redemandé à l'API.",
            what, path, pending.number, len(pending.text), len(content.lines))
        # Lignes complètes : toutes suivies d'une autre, donc toutes avec leur saut de ligne.
        atomic_write_lines(path, [line.text for line in content.lines])
    elif content.lines and not content.lines[-1].text.endswith("\n"):
        # Ligne complète sans saut de ligne final : on le rajoute, sans rien réécrire.
        append_lines(path, [])  # le saut de ligne final, seul (voir files.append_lines)
        content.lines[-1].text += "\n"
    if content.normalise:
        logger.warning("%s : %s contient une marque BOM ou des octets non UTF-8 (lus en latin-1) ; "
                       "il sera réécrit en UTF-8, sans perdre aucune ligne.", what, path)
    return content
