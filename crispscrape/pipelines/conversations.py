"""Conversations : dédoublonnage par session_id, ajout page par page, tri final.

Ce pipeline possède le magasin des conversations (fichier + état du parcours). Une page de
la liste arrive en un seul item (``ConversationsPage``) : ses nouvelles conversations sont
ajoutées d'un coup à conversations.jsonl (lignes complètes + fsync) et son bilan est noté
dans ``item.outcome``. Une fois l'item passé (signal item_scraped), l'araignée en tire la
page suivante et la nouvelle position du parcours, que ce pipeline enregistre (signal
``listing_advanced``). Un arrêt brutal ne perd donc que la page en cours, redemandée.

Classement de chaque conversation reçue (l'araignée a déjà refusé les pages abîmées) :
- inconnue -> nouvelle (``conversations/exported``), dans la limite de ``nb`` ;
- connue, mais avec une dernière activité (active.last, puis updated_at) plus récente ->
  mise à jour (``conversations/updated``) : l'objet stocké est remplacé, toujours unique ;
- connue et pas plus récente -> ignorée car déjà présente (``conversations/ignored_present``) ;
- oubliée par « scrapy forget » (oublis.jsonl) -> jamais réécrite (``forget/skipped``).
"""

from __future__ import annotations

import json

from crispscrape.context import export_context
from crispscrape.items import ConversationsPage, PageOutcome
from crispscrape.model import activity_of, session_id_of, version_of
from crispscrape.pipelines.base import StorePipeline
from crispscrape.signals import (
    conversation_removed, conversation_restored, listing_advanced, stop_export, traces_erased,
)
from crispscrape.storage import StorageError
from crispscrape.storage.conversations import ConversationsStore
from crispscrape.storage.forgotten import ForgetLog
from crispscrape.storage.layout import ExportLayout
from crispscrape.storage.suppressions import SuppressionLog
from crispscrape.storage.listing import ListingPosition


def _listed_fields_changed(conversation: dict, stored_text: str) -> bool:
    """Un champ de la liste a changé (les champs ajoutés à la main à la ligne ne comptent pas :
    ils restent tant que la liste ne dit rien de neuf)."""
    stored = json.loads(stored_text)
    return any(stored.get(key) != value for key, value in conversation.items())


class ConversationsPipeline(StorePipeline):
    def __init__(self, crawler):
        super().__init__(crawler)
        crawler.signals.connect(self.save_position, signal=listing_advanced)
        crawler.signals.connect(self._removed, signal=conversation_removed)
        crawler.signals.connect(self._erased, signal=traces_erased)
        # Ce que « scrapy forget » a oublié (empreintes) : jamais réécrit ici, lu une fois.
        context = export_context(crawler)
        self.forgotten = ForgetLog(ExportLayout(context.config.data_dir).forgotten) \
            if context is not None and context.config is not None else None
        # Supprimées d'après le registre (lu une fois, après le pré-vol) : listées de
        # nouveau, elles existent.
        self.removed: set[str] = set()

    def open_spider(self, spider=None):
        super().open_spider(spider)
        if self.store is not None:
            self.removed = SuppressionLog(ExportLayout(self.store.root.parent).suppressions
                                          ).removed()

    def _removed(self, session_id: str, evidence: str = "") -> None:
        # Supprimée pendant l'exécution (le direct) : listée de nouveau, elle serait rétablie.
        self.removed.add(session_id)

    def _erased(self, conversations: set[str], messages: set[tuple]) -> None:
        if self.store is not None:
            self.store.forget(conversations)

    @staticmethod
    def make_store(crawler, context) -> ConversationsStore:
        return ConversationsStore(context.config.data_dir, crawler.stats,
                                  crawler.settings.getint("CRISP_CONVERSATIONS_PER_PAGE"))

    def process_item(self, item, spider=None):
        if not isinstance(item, ConversationsPage) or self.store is None:
            return item
        store = self.store
        outcome = PageOutcome(received=len(item.conversations) + item.set_aside)
        new: list[dict] = []
        updated: list[dict] = []
        seen: set[str] = set()
        for conversation in item.conversations:
            session_id = session_id_of(conversation)
            if session_id is None:
                outcome.invalid += 1
                continue
            activity = activity_of(conversation)
            if activity is not None and outcome.oldest is not None and activity > outcome.oldest:
                outcome.out_of_order = True
            if activity is not None:
                outcome.newest = activity if outcome.newest is None else max(outcome.newest, activity)
                outcome.oldest = activity if outcome.oldest is None else min(outcome.oldest, activity)
            if self.forgotten is not None and self.forgotten.matches(conversation):
                # Oubliée à la demande (scrapy forget) : jamais réécrite, même listée de nouveau.
                self.stats.inc_value("forget/skipped")
                continue
            if session_id in self.removed:
                self.removed.discard(session_id)
                self.crawler.signals.send_catch_log(conversation_restored, session_id=session_id)
            if session_id in seen:
                # Même conversation deux fois dans une page (dérive pendant la réponse).
                outcome.present += 1
                continue
            seen.add(session_id)
            known = store.file.stored(session_id)
            if known is None:
                if len(new) < item.limit:
                    new.append(conversation)
                else:
                    outcome.left_over += 1
            elif (version := version_of(conversation)) > known.version or version \
                    == known.version and _listed_fields_changed(conversation, known.text):
                # Même version, autres champs : le dernier message modifié change l'aperçu
                # (preview_message, last_message) sans toucher updated_at ni active.last.
                updated.append(conversation)
            else:
                outcome.present += 1
        outcome.new, outcome.updated = len(new), len(updated)
        store.save_page(new, updated)
        for name, value in (("exported", outcome.new), ("updated", outcome.updated),
                            ("ignored_present", outcome.present),
                            ("ignored_invalid", outcome.invalid)):
            if value:
                self.stats.inc_value(f"conversations/{name}", value)
        self.stats.set_value("conversations/total", len(store))
        item.outcome = outcome
        return item

    def save_position(self, position: ListingPosition, seen: list[str] | None = None,
                      census_done: bool = False) -> None:
        """Signal listing_advanced : la position du parcours après une page écrite (et ce
        qu'a vu le recensement)."""
        if self.store is None:
            return
        try:
            self.store.save_position(position, seen, census_done)
        except StorageError as exc:
            stop_export(self.crawler, "output_error", str(exc))
