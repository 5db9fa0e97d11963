"""Écriture des fichiers de messages, triés du plus récent au plus ancien.

Ce pipeline possède le magasin de l'export (``storage/messages.py``) à la manière de
``FilesPipeline`` et de scrapy-deltafetch : il le crée, l'ouvre quand l'araignée s'ouvre
(vérifications, verrou, état) et le ferme quand elle se ferme. Chaque lot reçu y est
ajouté ; le lot qui termine une conversation fait écrire son fichier complet (anciens +
nouveaux + modifiés, triés) d'un seul coup, puis l'état avance.
"""

from __future__ import annotations

import logging

from twisted.internet.task import LoopingCall

from crispscrape.console import Repeats
from crispscrape.config import removal_policy
from crispscrape.items import MessageBatch
from crispscrape.signals import conversation_closed, stop_export, traces_erased
from crispscrape.oserrors import os_reason
from crispscrape.pipelines.base import StorePipeline
from crispscrape.storage.files import StorageError
from crispscrape.storage.messages import MessageStore

logger = logging.getLogger(__name__)


def message_store(crawler) -> MessageStore:
    """Le magasin des messages de ce crawler (le même pour l'araignée et les pipelines)."""
    return MessageFilePipeline.store_for(crawler)


class MessageFilePipeline(StorePipeline):
    # Vrai une fois l'arrêt demandé après une écriture impossible (disque plein…).
    stopping = False
    _tick: LoopingCall | None = None

    def __init__(self, crawler):
        super().__init__(crawler)
        crawler.signals.connect(self._erased, signal=traces_erased)

    @staticmethod
    def make_store(crawler, context) -> MessageStore:
        return MessageStore(context.config.data_dir, crawler.stats,
                            crawler.settings.getfloat("CRISP_MESSAGES_STATE_FLUSH", 1.0),
                            context.source.model, Repeats(crawler.settings))

    def _erased(self, conversations: set[str], messages: set[tuple]) -> None:
        if self.store is not None:  # effacées des fichiers pendant le direct
            self.store.forget(conversations)

    def open_spider(self, spider=None):
        super().open_spider(spider)
        if self.store is not None:
            # Les fichiers préparés et l'état mis en place au plus tard CRISP_MESSAGES_STATE_FLUSH
            # après, même sans item derrière (le direct reste ouvert des heures entre deux
            # relectures) ; jamais plus d'un tic par demi-seconde (0 : après chaque conversation).
            self._tick = LoopingCall(self._flush_pending)
            self._tick.start(max(0.5, self.store.state_flush_seconds), now=False)

    def _flush_pending(self) -> None:
        try:
            self.store.maybe_flush(pending_only=True)
        except (OSError, StorageError) as exc:
            # Disque plein : les fichiers en place restent intacts ; réessayé au tic suivant,
            # dit une fois (pas à chaque tic).
            first = not self.stats.get_value("messages/state_save_failed")
            self.stats.inc_value("messages/state_save_failed")
            (logger.error if first else logger.debug)(
                "État de l'export des messages non enregistré : %s. Les fichiers en place sont "
                "intacts ; nouvel essai au prochain tic.", exc if isinstance(exc, StorageError)
                else os_reason(exc))

    def close_spider(self, spider=None):
        if self._tick is not None and self._tick.running:
            self._tick.stop()
        if self.store is not None:
            # Arrêt (quota, Ctrl-C) : les conversations encore ouvertes sont sauvées en partiel.
            for done in self.store.interrupt_all():
                self._count(done)
        super().close_spider(spider)

    def process_item(self, item, spider=None):
        if not isinstance(item, MessageBatch) or self.store is None:
            return item
        store = self.store
        try:
            # Messages supprimés chez Crisp : retirés du fichier avec CRISP_REMOVED=erase
            # seulement (keep : gardés, notés par pipelines/removals.py).
            removed = item.removed if item.removed \
                and removal_policy(self.crawler.settings) == "erase" else ()
            store.add(item.session_id, item.messages, item.reached_stored,
                      item.new, item.updated, item.ignored, removed)
            if item.end is not None:
                self._finish(item)
        except OSError as exc:
            # finish() a déjà refermé la conversation : son ancien fichier reste intact.
            store.write_failed(item.session_id, exc)
            if not self.stopping:  # une fois : les lots encore en vol échouent de même
                self.stopping = True
                stop_export(self.crawler, "output_error", "Arrêt de l'export : le répertoire de "
                            f"données n'accepte plus d'écriture ({os_reason(exc)}).")
        return item

    def _finish(self, item: MessageBatch) -> None:
        self._count(self.store.finish(item.session_id, item.rank, item.complete, item.end))

    def _count(self, done) -> None:
        stats = self.stats
        if not done.opened:
            if not done.complete:
                stats.inc_value("messages/conversations_incomplete")
            return
        stats.inc_value("messages/new", done.new)
        stats.inc_value("messages/updated", done.updated)
        stats.inc_value("messages/conversations_done")
        # L'araignée peut vérifier ce qu'elle sait de la conversation (nombre annoncé...).
        self.crawler.signals.send_catch_log(conversation_closed, done=done)
        if not done.complete:
            stats.inc_value("messages/conversations_incomplete")
        state = ("complète" if done.complete
                 else f"incomplète ({done.why}), reprise à la prochaine exécution")
        logger.debug("Conversation %s : %d message(s) exporté(s), %d mis à jour, %d ignoré(s) "
                     "(déjà connus) ; %s.", done.session_id, done.new, done.updated,
                     done.ignored, state)
