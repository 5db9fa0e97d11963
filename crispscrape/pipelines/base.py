"""Base des pipelines qui possèdent le magasin d'un export.

À la manière de ``FilesPipeline`` et de scrapy-deltafetch : le pipeline crée le magasin,
l'ouvre quand l'araignée s'ouvre (vérifications, verrou, état) et le ferme quand elle se
ferme ; rien d'autre ne l'ouvre ni ne le ferme. L'araignée y lit par ``store_for(crawler)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from crispscrape.signals import refuse_start
from crispscrape.context import ExportContext, export_context
from crispscrape.storage import StorageError
from crispscrape.oserrors import os_reason
from crispscrape.storage.paths import remove_if_empty


def check_data_dir(data_dir: Path) -> None:
    if data_dir.exists() and not data_dir.is_dir():
        raise StorageError(f"CRISP_DATA_DIR désigne {data_dir}, qui est un fichier et non un répertoire. Rien "
                           "n'a été modifié ; choisissez un répertoire (il sera créé s'il n'existe pas).")


class StorePipeline:
    """Sous-classes : ``make_store(crawler, context)`` et, si des items les traversent,
    ``process_item``."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        # Le magasin est créé ici, une fois, et rangé dans le contexte de l'export pour ses
        # lecteurs (l'araignée, le dédoublonnage) ; None si l'export est refusé d'avance.
        context = export_context(crawler)
        self._owned: Any = None
        if context is not None and context.config is not None:
            self._owned = self.make_store(crawler, context)
            context.stores[type(self)] = self._owned
        # Ouvert seulement si l'araignée a passé le pré-vol (arguments, configuration).
        self.store: Any = None
        # Répertoires créés pour le verrou du site (retirés à la fermeture s'ils sont vides).
        self._created: list = []

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    @staticmethod
    def make_store(crawler, context: ExportContext) -> Any:
        raise NotImplementedError

    @classmethod
    def store_for(cls, crawler) -> Any:
        """Le magasin de cet export pour ce crawler, à LIRE (le pipeline seul y écrit) ; None
        si l'export a été refusé avant sa création."""
        context = export_context(crawler)
        return context.stores.get(cls) if context is not None else None

    def open_spider(self, spider=None):
        context = export_context(self.crawler)
        if context is None or not context.ready or self._owned is None:
            # Arguments, réglages ou configuration refusés : aucun fichier n'est touché.
            return
        store = self._owned
        config = context.config
        try:
            check_data_dir(config.data_dir)
            # Le site d'abord (un seul export par site à la fois, voir crispscrape/website.py),
            # puis les fichiers de l'export.
            website_id = getattr(config, "website_id", None)
            if website_id is not None:
                # Crisp seulement : Ninja et Wanzo ont chacun leur dossier et son verrou.
                self._created = context.site_locks.lock(config.data_dir, website_id)
            store.open(reset=context.reset)
        except StorageError as exc:
            refuse_start(self.crawler, "input_error", str(exc))
            return
        except OSError as exc:
            refuse_start(self.crawler, "input_error", f"{exc.filename} : {os_reason(exc)}. "
                                                      "Rien n'a été modifié ; vérifiez ce chemin.")
            return
        self.store = store

    def close_spider(self, spider=None):
        if self.store is not None:
            self.store.close()
        # Répertoire du site créé pour rien (arrêt au premier appel, 401) : retiré.
        remove_if_empty(self._created)
