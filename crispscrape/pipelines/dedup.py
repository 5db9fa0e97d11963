"""Dédoublonnage des messages par leur clé, un lot (une réponse de l'API) à la fois.

La clé vient du modèle du système exporté (``crispscrape/sources/``) : le fingerprint chez
Crisp, l'``id`` chez Ninja et Wanzo.

Retire du lot les messages déjà présents à l'identique dans le fichier, ou déjà reçus dans
cette exécution (les lots se chevauchent volontairement d'une milliseconde, voir
l'araignée). Garde un message connu dont le contenu a changé (message modifié) : c'est une
mise à jour, pas un doublon. Le lot continue vers l'écriture même vide : sa fin compte.
"""

from __future__ import annotations

from crispscrape.items import MessageBatch
from crispscrape.pipelines.messages import message_store


class MessageDedupPipeline:
    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item, spider=None):
        if not isinstance(item, MessageBatch) or not item.messages:
            return item
        store = message_store(self.crawler)
        known = store.known(item.session_id, item.rank)
        stored, received = known.stored, known.received
        key = store.model.message_key
        # Une clé par message, calculée une fois (le coût par message compte : issue 9).
        keys = [key(m) for m in item.messages]
        item.reached_stored = any(fingerprint in stored for fingerprint in keys)
        kept, overlap = [], 0
        seen: set = set()
        for fingerprint, message in zip(keys, item.messages, strict=True):
            if fingerprint in seen or fingerprint in received and not item.full_order:
                overlap += 1
                continue
            seen.add(fingerprint)
            if fingerprint in received:
                # Relue dans l'ordre de l'API : gardée pour sa place, déjà comptée.
                overlap += 1
                kept.append(message)
                continue
            previous = stored.get(fingerprint)
            if previous is None:
                item.new += 1
            elif previous == message:
                item.ignored += 1
                if not item.full_order:
                    continue
            else:
                item.updated += 1
            kept.append(message)
        item.messages = kept
        if overlap:
            self.stats.inc_value("dedup/overlap", overlap)
        if item.ignored:
            self.stats.inc_value("messages/ignored_known", item.ignored)
        return item
