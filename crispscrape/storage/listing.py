"""État du parcours de la liste des conversations : ``conversations.jsonl.state.json``.

``ListingPosition`` : prochaine page du rattrapage (``page_number``), taille de page, fin du
rattrapage et « filigrane » ; ``ListingCursor`` la lit et l'écrit ; ``CrispListWalk``
(paging/conversations.py, dans l'araignée) décide de la page suivante et fait avancer la
position. Deux parcours, contre la dérive des pages (les nouvelles conversations poussent les
autres vers le bas, une conversation qui reprend vie remonte en page 1) :

- le balayage du haut part de la page 1 et s'arrête sur la première page qui n'apporte rien
  ET descend sous le filigrane (dernière activité connue quand le haut était entièrement
  exporté ; il n'avance qu'en fin de balayage complet) : ce qui a bougé est au-dessus ;
- le rattrapage reprend l'historique à la page notée : des insertions en haut font
  redemander quelques conversations, jamais en sauter. Une page vide = historique complet.

Pourquoi rien n'est sauté, même coupé par ``nb`` ou le quota : docs/conversations.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from crispscrape.model import timestamp_of
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
SCAN, BACKFILL, CENSUS = "balayage du haut", "rattrapage", "recensement"


@dataclass
class ListingPosition:
    """Ce que dit l'état. Une valeur : le magasin garde celle du fichier, l'araignée fait
    avancer sa copie et la renvoie au magasin par le signal ``listing_advanced``."""

    page_number: int = 1
    per_page: int | None = None
    backfill_complete: bool = False
    # Dernière activité (ms) sous laquelle tout ce qui précède le rattrapage est connu.
    watermark: int | None = None
    original: bool = False  # état écrit par le script d'origine (conv.py)
    exists: bool = False
    # Recensement (liste entière, pour trouver ce que Crisp a supprimé : docs/suppressions.md) :
    # fin du dernier (ms) et, s'il est en cours, sa prochaine page. Écrits seulement s'ils
    # ont une valeur : l'état d'un export sans recensement ne change pas.
    census_at: int | None = None
    census_page: int | None = None

    def resume_page(self, per_page: int) -> int:
        """Page du rattrapage à demander avec la taille de page actuelle. La position (nombre
        de conversations déjà parcourues) est convertie si la taille de page a changé, en
        arrondissant vers le haut de la liste : on redemande un peu, on ne saute rien. L'état
        du script d'origine avance d'une page même quand --nb coupe la page en cours : on
        reprend donc une page plus tôt pour ne rien manquer."""
        old = self.per_page or per_page
        offset = (self.page_number - 1) * old
        if self.original:
            offset = max(0, offset - old)
        return offset // per_page + 1

    def restart(self) -> None:
        """Repart comme une première exécution (le fichier décrit par l'état a disparu)."""
        self.page_number, self.backfill_complete, self.watermark = 1, False, None
        self.original = False


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
        raise StorageError(
            f"Fichier d'état des conversations inattendu ({self.path}) : « {key} » vaut "
            f"{value!r}. Il n'a pas été modifié ; corrigez-le, ou relancez avec -a reset=1 "
            "pour repartir de zéro."
        )

    def save(self, position: ListingPosition, per_page: int) -> None:
        data = {
            FORMAT_KEY: FORMAT,
            "page_number": position.page_number,
            "per_page": per_page,
            "backfill_complete": position.backfill_complete,
            "watermark": position.watermark,
        }
        data.update({key: getattr(position, key) for key in CENSUS_KEYS
                     if getattr(position, key) is not None})
        # Les autres clés d'un état existant sont gardées ; les anciens noms de la page
        # (next_page…) sont retirés pour qu'une seule valeur fasse foi.
        data.update({k: v for k, v in self.file.data.items()
                     if k not in PAGE_KEYS and k not in data and k not in CENSUS_KEYS})
        self.file.data = data
        self.file.save()
        self.position = replace(position, per_page=per_page, original=False, exists=True)

    def delete(self) -> None:
        self.file.delete()
