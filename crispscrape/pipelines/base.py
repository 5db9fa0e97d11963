"""Base des pipelines qui possèdent le magasin d'un export.

À la manière de ``FilesPipeline`` et de scrapy-deltafetch : le pipeline crée le magasin,
l'ouvre quand l'araignée s'ouvre (vérifications, verrou, état) et le ferme quand elle se
ferme ; rien d'autre ne l'ouvre ni ne le ferme. L'araignée y lit par ``store_for(crawler)``.
"""

from __future__ import annotations

from typing import Any

from crispscrape.config import ConfigError
from crispscrape.storage import StorageError, shared_store
from crispscrape.oserrors import os_reason
from crispscrape.storage.paths import check_data_dir, remove_if_empty
from crispscrape.website import lock_website


class StorePipeline:
    """Sous-classes : ``make_store(crawler)`` et ``process_item``."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        # Ouvert seulement si l'araignée a passé le pré-vol (arguments, configuration).
        self.store: Any = None
        # Répertoires créés pour le verrou du site (retirés à la fermeture s'ils sont vides).
        self._created: list = []

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    @staticmethod
    def make_store(crawler) -> Any:
        raise NotImplementedError

    @classmethod
    def store_for(cls, crawler) -> Any:
        """Le magasin de cet export pour ce crawler (le même pour tous ses lecteurs)."""
        return shared_store(crawler, cls, cls.make_store)

    def open_spider(self, spider=None):
        spider = self.crawler.spider
        if getattr(spider, "startup_error", None) or getattr(spider, "config", None) is None:
            # Arguments ou configuration refusés : aucun fichier n'est touché.
            return
        try:
            spider.check_settings()
        except ConfigError as exc:
            spider.refuse_start("config_error", str(exc))
            return
        store = self.store_for(self.crawler)
        config = spider.config
        try:
            check_data_dir(config.data_dir)
            # Le site d'abord (un seul export par site à la fois, voir crispscrape/website.py),
            # puis les fichiers de l'export.
            website_id = getattr(config, "website_id", None)
            if website_id is not None:
                # Crisp seulement : Ninja et Wanzo ont chacun leur dossier et son verrou.
                self._created = lock_website(config.data_dir, website_id)
            store.open(reset=spider.reset)
        except StorageError as exc:
            spider.refuse_start("input_error", str(exc))
            return
        except OSError as exc:
            spider.refuse_start("input_error", f"{exc.filename} : {os_reason(exc)}. Rien "
                                               "n'a été modifié ; vérifiez ce chemin.")
            return
        self.store = store

    def close_spider(self, spider=None):
        if self.store is not None:
            self.store.close()
        # Répertoire du site créé pour rien (arrêt au premier appel, 401) : retiré.
        remove_if_empty(self._created)
