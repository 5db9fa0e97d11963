"""Conversations : dédoublonnage par session_id, ajout page par page, tri final.

Une page de la liste arrive en un seul item (``ConversationsPage``) : ses nouvelles
conversations sont ajoutées d'un coup à conversations.jsonl (lignes complètes + fsync),
AVANT que l'araignée n'enregistre l'état de pagination (elle le fait sur le signal
item_scraped, émis après ce pipeline). Un arrêt brutal ne perd donc que la page en cours,
qui sera redemandée.

Classement de chaque conversation reçue :
- sans session_id utilisable -> ignorée (``conversations/ignored_invalid``) ;
- inconnue -> nouvelle (``conversations/exported``), dans la limite de ``nb`` ;
- connue, mais avec une dernière activité (active.last, puis updated_at) plus récente ->
  mise à jour (``conversations/updated``) : l'objet stocké est remplacé, toujours unique ;
- connue et pas plus récente -> ignorée car déjà présente (``conversations/ignored_present``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from crispscrape.pipelines.base import CrawlerPipeline
from crispscrape.storage.files import StorageError
from crispscrape.model import activity_of, session_id_of, version_of

logger = logging.getLogger(__name__)


@dataclass
class PageOutcome:
    """Bilan d'une page, lu par l'araignée pour décider de la suite."""

    received: int = 0
    new: int = 0
    updated: int = 0
    present: int = 0
    invalid: int = 0
    # Nouvelles conversations laissées de côté parce que ``nb`` est atteint.
    left_over: int = 0
    newest: int | None = None  # dernière activité la plus récente de la page
    oldest: int | None = None  # et la plus ancienne


@dataclass
class ConversationsPage:
    """Une page de la liste des conversations, telle que reçue."""

    page: int
    conversations: list
    # Nombre maximal de nouvelles conversations à garder (reste de ``nb``).
    limit: int
    outcome: PageOutcome | None = field(default=None)

    def __repr__(self) -> str:
        # Scrapy journalise l'item en cas d'erreur : pas une page entière de données.
        return f"ConversationsPage(page={self.page}, {len(self.conversations)} conversations)"


class ConversationsPipeline(CrawlerPipeline):
    def process_item(self, item, spider=None):
        if not isinstance(item, ConversationsPage):
            return item
        # Le fichier a été ouvert (lu, réparé) par l'araignée dans prepare(), une fois la
        # configuration validée ; ce pipeline n'y touche qu'à la première page.
        store = self.crawler.spider.conversations_file
        outcome = PageOutcome(received=len(item.conversations))
        new, updated, seen = [], [], set()
        for conversation in item.conversations:
            session_id = session_id_of(conversation)
            if session_id is None:
                outcome.invalid += 1
                continue
            activity = activity_of(conversation)
            if activity is not None:
                outcome.newest = activity if outcome.newest is None else max(outcome.newest, activity)
                outcome.oldest = activity if outcome.oldest is None else min(outcome.oldest, activity)
            if session_id in seen:
                # Même conversation deux fois dans une page (dérive pendant la réponse).
                outcome.present += 1
                continue
            seen.add(session_id)
            known = store.version(session_id)
            if known is None:
                if len(new) < item.limit:
                    new.append(conversation)
                else:
                    outcome.left_over += 1
            elif version_of(conversation) > known:
                updated.append(conversation)
            else:
                outcome.present += 1
        try:
            store.save_page(new, updated)
        except OSError as exc:
            raise StorageError(
                f"Écriture impossible dans {store.path} : {exc.strerror or exc}. Les lignes "
                "déjà présentes sont intactes ; la page sera redemandée à la prochaine exécution."
            ) from exc
        outcome.new, outcome.updated = len(new), len(updated)
        for name, value in (("exported", outcome.new), ("updated", outcome.updated),
                            ("ignored_present", outcome.present),
                            ("ignored_invalid", outcome.invalid)):
            if value:
                self.stats.inc_value(f"conversations/{name}", value)
        self.stats.set_value("conversations/total", len(store))
        item.outcome = outcome
        return item

    def close_spider(self, spider=None):
        store = getattr(self.crawler.spider, "conversations_file", None)
        if store is None:
            # L'araignée a refusé de démarrer (configuration, arguments) : rien à toucher.
            return
        try:
            if store.finish():
                logger.info("Fichier %s trié par dernière activité décroissante (%d conversations).",
                            store.path, len(store))
        except OSError as exc:
            self.stats.inc_value("conversations/final_sort_failed")
            logger.error("Tri final de %s impossible : %s. Le fichier est complet mais pas trié ; "
                         "il le sera à la prochaine exécution.", store.path, exc.strerror or exc)
        self.stats.set_value("conversations/total", len(store))
