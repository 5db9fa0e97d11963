"""Lecture d'un fichier JSONL de sortie avant de le compléter : tolérante là où c'est sûr.

- Dernière ligne illisible : c'est la trace d'un arrêt brutal pendant un ajout (ou d'un
  outil qui a coupé le fichier). Elle est signalée puis retirée par une réécriture atomique
  des lignes complètes, octet pour octet : aucune ligne complète n'est perdue.
- Dernière ligne complète mais sans saut de ligne final (éditeur, autre outil) : on ajoute
  le saut de ligne, sinon le prochain ajout se collerait à elle.
- Ligne illisible AU MILIEU : ce n'est pas un arrêt brutal, c'est un fichier abîmé par
  autre chose. On refuse de continuer plutôt que de réécrire un fichier qu'on ne comprend
  pas ; le message dit quelle ligne corriger.

Chaque ligne est décodée en UTF-8 strict, en binaire : le texte conservé est exactement
celui du fichier, et une réécriture reproduit les mêmes octets.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from crispscrape.storage.files import StorageError, append_lines, atomic_write_lines


@dataclass
class JsonlLine:
    number: int
    obj: Any
    # Texte exact de la ligne, saut de ligne final compris.
    text: str


@dataclass
class JsonlContent:
    lines: list[JsonlLine] = field(default_factory=list)
    # Fragment retiré (dernière ligne tronquée), None s'il n'y en avait pas.
    fragment: str | None = None


def _parse(raw: bytes) -> tuple[Any, str] | None:
    try:
        text = raw.decode("utf-8")
        return json.loads(text), text
    except (UnicodeDecodeError, ValueError):
        return None


def load_and_repair(path: Path, what: str, logger: logging.Logger) -> JsonlContent:
    """Lit ``path`` (absent = vide), répare sa fin si besoin ; StorageError si une ligne du
    milieu est illisible."""
    content = JsonlContent()
    if not path.exists():
        return content
    pending: tuple[int, bytes] | None = None  # ligne illisible pas encore suivie d'une autre
    last_raw = b""
    try:
        with open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if not raw.strip():
                    continue
                if pending is not None:
                    raise StorageError(
                        f"{what} : la ligne {pending[0]} de {path} est illisible (JSON invalide "
                        "ou encodage non UTF-8) alors que d'autres lignes la suivent. Le fichier "
                        "n'a pas été modifié ; corrigez ou supprimez cette ligne, ou relancez "
                        "avec -a reset=1 pour repartir de zéro."
                    )
                last_raw = raw
                parsed = _parse(raw)
                if parsed is None:
                    pending = (number, raw)
                    continue
                obj, text = parsed
                content.lines.append(JsonlLine(number, obj, text))
    except OSError as exc:
        raise StorageError(f"{what} illisible ({path}) : {exc.strerror or exc}.") from exc
    if pending is not None:
        content.fragment = pending[1].decode("utf-8", errors="replace")
        logger.warning(
            "%s : la dernière ligne de %s (ligne %d, %d octets) est tronquée, sans doute un "
            "arrêt brutal pendant l'écriture. Elle est retirée ; les %d lignes complètes sont "
            "conservées et l'élément concerné sera redemandé à l'API.",
            what, path, pending[0], len(pending[1]), len(content.lines))
        atomic_write_lines(path, [_with_newline(line.text) for line in content.lines])
    elif last_raw and not last_raw.endswith(b"\n"):
        # Ligne complète sans saut de ligne final : on le rajoute, sans rien réécrire.
        append_lines(path, ["\n"])
        content.lines[-1].text = _with_newline(content.lines[-1].text)
    return content


def _with_newline(text: str) -> str:
    return text if text.endswith("\n") else text + "\n"
