"""Dédoublonnage des messages par fingerprint.

Écarte un message déjà présent à l'identique dans le fichier, ou déjà reçu dans cette
exécution (les lots se chevauchent volontairement d'une milliseconde, voir l'araignée).
Laisse passer un message connu dont le contenu a changé (message modifié) : c'est une mise
à jour, pas un doublon.
"""

from __future__ import annotations

from scrapy.exceptions import DropItem

from crispscrape.items import MessageItem
from crispscrape.pipelines.base import CrawlerPipeline


class MessageDedupPipeline(CrawlerPipeline):
    def process_item(self, item, spider=None):
        if not isinstance(item, MessageItem):
            return item
        record = self.crawler.spider.archive.get(item.session_id)
        fingerprint = item.message["fingerprint"]
        if fingerprint in record.pending:
            self.stats.inc_value("dedup/overlap")
            raise DropItem("message déjà reçu dans cette exécution", log_level="DEBUG")
        stored = record.stored.get(fingerprint)
        if stored == item.message:
            record.ignored_count += 1
            self.stats.inc_value("messages/ignored_known")
            raise DropItem("message déjà présent dans le fichier", log_level="DEBUG")
        if stored is None:
            record.new_count += 1
        else:
            record.updated_count += 1
        return item
