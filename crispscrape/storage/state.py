"""Fichiers d'état et de reprise (``*.state.json``) : lus au départ, réécrits atomiquement.

Un état illisible n'est jamais écrasé en silence : perdre un état peut faire croire complet
un fichier qui ne l'est pas. L'araignée s'arrête alors avec un message clair, et
``-a reset=1`` permet de repartir de zéro en connaissance de cause.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from crispscrape.storage.files import StorageError, atomic_write_json, read_json


class StateFile:
    """Un dictionnaire persistant : ``load()`` au départ, ``save()`` à chaque étape sûre."""

    def __init__(self, path: Path, description: str = "Fichier d'état", compact: bool = False):
        # compact : JSON sans indentation, pour un état long réécrit souvent.
        self.compact = compact
        self.path = Path(path)
        self.description = description
        self.data: dict[str, Any] = {}

    def load(self) -> dict[str, Any]:
        """Charge l'état (vide s'il n'existe pas) ; StorageError s'il est corrompu."""
        self.data = self.read()
        return self.data

    def read(self, parse=json.loads) -> dict[str, Any]:
        """L'état du fichier, sans le garder ; ``parse`` : un autre lecteur qui rend le même
        contenu (voir storage/done.py, dont l'état reste au seul curseur)."""
        data = read_json(self.path, self.description, parse=parse)
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise StorageError(
                f"{self.description} inattendu ({self.path}) : un objet JSON est attendu. "
                "Il n'a pas été modifié ; relancez avec -a reset=1 pour repartir de zéro."
            )
        return data

    def save(self) -> None:
        atomic_write_json(self.path, self.data, compact=self.compact)

    def delete(self) -> None:
        self.path.unlink(missing_ok=True)
        self.data = {}
