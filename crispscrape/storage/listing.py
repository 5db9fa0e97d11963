"""État du parcours de la liste (``conversations.jsonl.state.json``), lu et écrit par
``ListingCursor`` ; ce qu'il dit et comment le parcours avance : paging/conversations.py."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from crispscrape.model import timestamp_of
from crispscrape.paging.conversations import ListingPosition
from crispscrape.storage.files import StateFile, StorageError

# Taille de page du script d'origine (conv.py) : sert à interpréter son état, qui ne la note pas.
ORIGINAL_PER_PAGE = 20
# Clés de page acceptées dans un état existant, de la plus sûre à la plus vague : les
# variantes du script d'origine y notent toutes la PROCHAINE page à demander.
PAGE_KEYS = ("page_number", "next_page", "next_page_number", "page")
# Présente dans tout état écrit par crispscrape ; absente = état du script d'origine.
FORMAT_KEY = "format"
FORMAT = 1
CENSUS_KEYS = ("census_at", "census_page")


class ListingCursor:
    """Le fichier d'état du parcours : lu à l'ouverture, réécrit atomiquement à chaque avance."""

    def __init__(self, path: Path):
        self.file = StateFile(path, "Fichier d'état des conversations")
        self.position = ListingPosition()

    @property
    def path(self) -> Path:
        return self.file.path

    def load(self) -> None:
        data = self.file.load()
        self.position = position = ListingPosition(exists=bool(data))
        if not data:
            return
        position.original = data.get(FORMAT_KEY) is None
        key = next((k for k in PAGE_KEYS if data.get(k) is not None), None)
        if key is not None:
            position.page_number = self._positive(data[key], key)
        per_page = data.get("per_page")
        position.per_page = self._positive(per_page, "per_page") if per_page is not None else (
            ORIGINAL_PER_PAGE if position.original else None)
        position.backfill_complete = data.get("backfill_complete") is True
        watermark = data.get("watermark")
        position.watermark = timestamp_of(watermark)
        if watermark is not None and position.watermark is None:
            self._corrupt("watermark", watermark)
        for key in CENSUS_KEYS:
            if data.get(key) is not None:
                setattr(position, key, self._positive(data[key], key))

    def _positive(self, value: Any, key: str) -> int:
        text = str(value).strip()
        if isinstance(value, bool) or not text.isdigit() or int(text) < 1:
            self._corrupt(key, value)
        return int(text)

    def _corrupt(self, key: str, value: Any):
        raise StorageError(f"Fichier d'état des conversations inattendu ({self.path}) : « {key} » vaut "
                           f"{value!r}. Il n'a pas été modifié ; corrigez-le, ou relancez avec -a reset=1 "
                           "pour repartir de zéro.")

    def save(self, position: ListingPosition, per_page: int) -> None:
        data = {FORMAT_KEY: FORMAT, "page_number": position.page_number, "per_page": per_page,
                "backfill_complete": position.backfill_complete, "watermark": position.watermark}
        data.update({key: getattr(position, key) for key in CENSUS_KEYS if getattr(position, key) is not None})
        # Les autres clés d'un état existant sont gardées ; les anciens noms de la page
        # (next_page…) sont retirés pour qu'une seule valeur fasse foi.
        data.update({k: v for k, v in self.file.data.items()
                     if k not in PAGE_KEYS and k not in data and k not in CENSUS_KEYS})
        self.file.data = data
        self.file.save()
        self.position = replace(position, per_page=per_page, original=False, exists=True)

    def delete(self) -> None:
        self.file.delete()
