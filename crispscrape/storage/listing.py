"""État du parcours de la liste des conversations : ``conversations.jsonl.state.json``.

``ListingCursor`` garde la prochaine page du rattrapage (``page_number``), la taille de page
utilisée, si le rattrapage est terminé et le « filigrane » ; ``CrispListWalk``
(crispscrape/paging/conversations.py) décide de la page suivante d'après le bilan de chaque
page reçue et tient cet état à jour. Deux parcours, pour la dérive des pages (de
nouvelles conversations poussent les anciennes vers les pages suivantes ; une conversation
qui reprend vie remonte en page 1) :

- le balayage du haut (à chaque exécution dont le fichier n'est pas vide) part de la page 1
  et s'arrête sur la première page qui n'apporte rien (ni nouvelle ni mise à jour) ET
  descend sous le filigrane : la dernière activité la plus récente connue quand le haut de
  la liste était entièrement exporté. Tout ce qui a bougé depuis a une activité plus
  récente, donc se trouve au-dessus : rien n'est sauté, même si le balayage précédent avait
  été coupé par ``nb`` ou le quota (le filigrane n'avance qu'en fin de balayage complet) ;
- le rattrapage reprend ensuite l'historique à la page notée dans l'état. Les insertions en
  haut ne font que pousser les pages vers le bas : on redemande au pire quelques
  conversations déjà connues, on n'en saute aucune. Une page vide = historique complet.

Si le balayage atteint la page du rattrapage, il le poursuit directement. Détails : docs/.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from crispscrape.model import timestamp_of
from crispscrape.storage.files import StorageError
from crispscrape.storage.state import StateFile

logger = logging.getLogger(__name__)

# Taille de page du script d'origine (conv.py) : sert à interpréter son état, qui ne la note pas.
ORIGINAL_PER_PAGE = 20
# Clés de page acceptées dans un état existant, de la plus sûre à la plus vague : les
# variantes du script d'origine y notent toutes la PROCHAINE page à demander.
PAGE_KEYS = ("page_number", "next_page", "next_page_number", "page")
# Présente dans tout état écrit par crispscrape ; absente = état du script d'origine.
FORMAT_KEY = "format"
FORMAT = 1
SCAN, BACKFILL = "balayage du haut", "rattrapage"


class ListingCursor:
    """État de pagination : prochaine page du rattrapage, taille de page, filigrane, fin."""

    def __init__(self, path: Path):
        self.file = StateFile(path, "Fichier d'état des conversations")
        self.page_number = 1
        self.per_page: int | None = None
        self.backfill_complete = False
        # Dernière activité (ms) sous laquelle tout ce qui précède le rattrapage est connu.
        self.watermark: int | None = None
        self.original = False  # état écrit par le script d'origine (conv.py)
        self.exists = False

    @property
    def path(self) -> Path:
        return self.file.path

    def load(self) -> None:
        data = self.file.load()
        self.exists = bool(data)
        if not data:
            return
        self.original = data.get(FORMAT_KEY) is None
        key = next((k for k in PAGE_KEYS if data.get(k) is not None), None)
        if key is not None:
            self.page_number = self._positive(data[key], key)
        per_page = data.get("per_page")
        self.per_page = self._positive(per_page, "per_page") if per_page is not None else (
            ORIGINAL_PER_PAGE if self.original else None)
        self.backfill_complete = data.get("backfill_complete") is True
        watermark = data.get("watermark")
        self.watermark = timestamp_of(watermark)
        if watermark is not None and self.watermark is None:
            self._corrupt("watermark", watermark)

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

    def resume_page(self, per_page: int) -> int:
        """Page du rattrapage à demander avec la taille de page actuelle.

        La position (nombre de conversations déjà parcourues) est convertie si la taille de
        page a changé, en arrondissant vers le haut de la liste : on redemande un peu, on ne
        saute rien. L'état du script d'origine avance d'une page même quand --nb coupe la
        page en cours : on reprend donc une page plus tôt pour ne rien manquer.
        """
        old = self.per_page or per_page
        offset = (self.page_number - 1) * old
        if self.original:
            offset = max(0, offset - old)
        return offset // per_page + 1

    def restart(self) -> None:
        """Repart comme une première exécution (le fichier décrit par l'état a disparu)."""
        self.page_number, self.backfill_complete, self.watermark = 1, False, None
        self.original = False

    def save(self, per_page: int) -> None:
        data = {
            FORMAT_KEY: FORMAT,
            "page_number": self.page_number,
            "per_page": per_page,
            "backfill_complete": self.backfill_complete,
            "watermark": self.watermark,
        }
        # Les autres clés d'un état existant sont gardées ; les anciens noms de la page
        # (next_page…) sont retirés pour qu'une seule valeur fasse foi.
        data.update({k: v for k, v in self.file.data.items()
                     if k not in PAGE_KEYS and k not in data})
        self.file.data = data
        self.file.save()
        self.per_page, self.original, self.exists = per_page, False, True

    def delete(self) -> None:
        self.file.delete()
