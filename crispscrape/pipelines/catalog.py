"""Écriture de la liste des conversations (Ninja, Wanzo) : voir storage/catalog.py.

Chaque page reçue est fusionnée en mémoire ; l'item final (``ListingPage.final``) fait
écrire le fichier d'un seul coup. L'araignée attend cet item (signal item_scraped) avant de
choisir les conversations dont elle demande les messages.
"""

from __future__ import annotations

import logging

from crispscrape.items import ListingPage
from crispscrape.pipelines.base import StorePipeline
from crispscrape.storage.catalog import CatalogStore
from crispscrape.oserrors import os_reason

logger = logging.getLogger(__name__)


class CatalogPipeline(StorePipeline):
    @staticmethod
    def make_store(crawler, context) -> CatalogStore:
        return CatalogStore(context.config.data_dir, crawler.stats, context.source.model)

    def process_item(self, item, spider=None):
        if not isinstance(item, ListingPage) or self.store is None:
            return item
        item.usable, invalid = self.store.add(item.conversations)
        if invalid:
            logger.warning("Page de la liste : %d conversation(s) sans identifiant utilisable, "
                           "ignorée(s).", invalid)
        if item.final:
            try:
                self.store.write()
            except OSError as exc:
                item.write_error = (f"Écriture impossible de {self.store.path} : "
                                    f"{os_reason(exc)}. L'ancien fichier est intact.")
        return item
