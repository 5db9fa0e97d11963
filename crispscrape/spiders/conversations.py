"""``scrapy crawl conversations [-a nb=N] [-a reset=1]`` : la liste des conversations.

Étapes et fichiers (un par étape) :
pages demandées (ce fichier ; page suivante : paging/conversations.py) -> dédoublonnage par
session_id et ajout (pipelines/conversations.py) -> fichier, tri final et état du parcours
(storage/conversations.py ; balayage du haut, rattrapage, filigrane : paging/conversations.py).

Les pages sont demandées une par une : la décision de continuer dépend de ce que la page
précédente a apporté. Le pipeline enregistre la page et note son bilan ; au signal
item_scraped, nous décidons de la suite, envoyons la nouvelle position au pipeline (signal
listing_advanced, l'état suit donc toujours la page) puis demandons la page suivante.
"""

from __future__ import annotations

import time
from dataclasses import replace
from urllib.parse import urlencode, urlsplit

from scrapy import signals

from crispscrape.api import InvalidResponse
from crispscrape.arguments import UNLIMITED
from crispscrape.config import ConfigError
from crispscrape.items import ConversationsPage
from crispscrape.model import session_id_of
from crispscrape.outcome import CAUSE_STAT
from crispscrape.paging.conversations import CENSUS, census_due, plan_walk
from crispscrape.pipelines.conversations import ConversationsPipeline
from crispscrape.signals import conversation_removed, listing_advanced
from crispscrape.storage.layout import ExportLayout
from crispscrape.storage.suppressions import SuppressionLog
from crispscrape.spiders.base import ExportSpider
from crispscrape.spiders.removals import unlisted_trusted

# Requête de confirmation d'une conversation absente de la liste (recensement).
CONFIRM_ROLE = "crisp_census_check"
# Bornes de per_page documentées par Crisp.
PER_PAGE_MIN, PER_PAGE_MAX = 20, 50


class ConversationsSpider(ExportSpider):
    name = "conversations"
    default_nb = 400
    # -a census=1 : recenser la liste entière dans cette exécution (docs/suppressions.md).
    flags = ("census",)
    census = False
    custom_settings = {
        "ITEM_PIPELINES": {
            # Le dernier fermé : efface ce que le recensement a trouvé supprimé.
            "crispscrape.pipelines.removals.RemovalsPipeline": 50,
            "crispscrape.pipelines.conversations.ConversationsPipeline": 300,
        },
    }

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.page_saved, signal=signals.item_scraped)
        crawler.signals.connect(spider.page_not_saved, signal=signals.item_error)
        return spider

    route_always_exists = True
    progress_key = "conversations/pages"
    progress_unit = "pages de liste"

    def check_settings(self) -> None:
        # Avant les défauts de l'add-on (from_crawler) : seule une valeur donnée est vérifiée,
        # le défaut (50) l'est par construction.
        if self.settings.get("CRISP_CONVERSATIONS_PER_PAGE") is None:
            return
        per_page = self.settings.getint("CRISP_CONVERSATIONS_PER_PAGE")
        if not PER_PAGE_MIN <= per_page <= PER_PAGE_MAX:
            raise ConfigError(f"CRISP_CONVERSATIONS_PER_PAGE={per_page} invalide : l'API Crisp "
                              f"accepte de {PER_PAGE_MIN} à {PER_PAGE_MAX}.")

    # --- Requêtes --------------------------------------------------------------------
    def export_requests(self):
        self.store = store = ConversationsPipeline.store_for(self.crawler)
        now = int(time.time() * 1000)
        due = census_due(store.position(), self.settings.getfloat("CRISP_CENSUS_DAYS", 7.0), now,
                         self.census)
        self.walk = plan_walk(store.position(), len(store), store.file.newest_at_load,
                              store.per_page, census=due, now_ms=now)
        # Conversations vues dans cette exécution : un recensement les compare aux connues.
        self.seen: set[str] = set()
        yield self.page_request(self.walk.page)

    def page_request(self, page: int):
        return self.api_request(page_url(self, page, self.store.per_page), self.parse_page,
                                cb_kwargs={"page": page}, dont_filter=True)

    def parse_page(self, response, page: int):
        exported = self.crawler.stats.get_value("conversations/exported", 0)
        yield from parsed_page(self, response, page, max(0, self.nb - exported),
                               "conversations/pages")

    def resource_missing(self, request):
        if request.meta.get(CONFIRM_ROLE):
            # Absente de la liste ET 404 sur elle-même : supprimée chez Crisp.
            self.crawler.signals.send_catch_log(
                conversation_removed, session_id=request.cb_kwargs["session_id"],
                evidence=f"404 sur GET {urlsplit(request.url).path} (recensement)")
            return []
        # Une page de liste ne peut pas être « introuvable » : c'est un échec, traité comme
        # tout autre (compté, signalé, l'état n'avance pas).
        return self._failed(request, "page de conversations introuvable (HTTP 404)")

    # --- Suite du parcours, une fois la page enregistrée ------------------------------
    def page_saved(self, item, response, spider):
        if not isinstance(item, ConversationsPage) or item.outcome is None:
            return
        stats = self.crawler.stats
        outcome, walk = item.outcome, self.walk
        exported = stats.get_value("conversations/exported", 0)
        # Sans -a nb (account), pas de total : « 50/9223372036854775807 » ne dit rien.
        done = f"{exported}/{self.nb}" if self.nb != UNLIMITED else f"{exported}"
        self.logger.info(
            "Page %d (%s) : %d reçues, %d nouvelles, %d mises à jour, %d déjà présentes, "
            "%d sans session_id. Progression : %s exportées, %d ignorées car déjà présentes.",
            item.page, walk.mode, outcome.received, outcome.new, outcome.updated,
            outcome.present, outcome.invalid, done,
            stats.get_value("conversations/ignored_present", 0))
        page_ids = [str(session_id_of(c)) for c in item.conversations]
        self.seen.update(page_ids)
        next_page, changed = walk.advance(outcome, budget_left=self.nb - exported)
        if walk.disordered and not stats.get_value("census/out_of_order"):
            stats.set_value("census/out_of_order", item.page)
            self.logger.warning(
                "La page %d de la liste n'est pas triée par dernière activité, l'ordre sur "
                "lequel s'appuie le balayage du haut. %s", item.page,
                "Toute la liste est parcourue (recensement) pour ne manquer aucun changement."
                if walk.mode == CENSUS else "Le rattrapage en cours parcourt déjà toute la liste.")
        seen = (sorted(self.seen) if walk.census_started
                else page_ids if walk.mode == CENSUS else None)
        missing = self._unlisted() if walk.census_complete else []
        if changed:
            # Le pipeline l'enregistre tout de suite ; s'il ne le peut pas, l'export s'arrête
            # (export_stopped) et la cause est notée : plus de page à demander.
            self.crawler.signals.send_catch_log(listing_advanced, position=replace(walk.position),
                                                seen=seen, census_done=walk.census_complete)
            if stats.get_value(CAUSE_STAT) is not None:
                return
        if next_page is not None:
            self.crawler.engine.crawl(self.page_request(next_page))
        else:
            self.logger.info("Arrêt du parcours : %s.", walk.stop_reason)
        for session_id in missing:
            self.crawler.engine.crawl(self._confirm_request(session_id))

    # --- Recensement : ce que la liste ne montre plus ----------------------------------
    def _unlisted(self) -> list[str]:
        """Conversations connues que la liste entière n'a pas montrées (ni déjà supprimées) :
        chacune sera confirmée par un appel sur elle-même, jamais supprimée sur cette seule
        absence."""
        removed = SuppressionLog(ExportLayout(self.config.data_dir).suppressions).removed()
        listed = self.seen | self.store.census_seen()
        known = self.store.known_at_open
        missing = sorted(known - listed - removed)
        self.crawler.stats.set_value("census/unlisted", len(missing))
        if not unlisted_trusted(len(missing), known, listed, self.logger):
            return []
        self.logger.info("Recensement fini : %d conversation(s) connue(s) absente(s) de la liste, "
                         "vérifiée(s) une par une.", len(missing))
        return missing

    def _confirm_request(self, session_id: str):
        url = self.api_config.website_url("conversation", session_id)
        return self.api_request(url, self._still_there, cb_kwargs={"session_id": session_id},
                                meta={CONFIRM_ROLE: True}, dont_filter=True)

    def _still_there(self, response, session_id: str):
        # Elle existe (la liste ne la montre pas : filtre, dérive) : rien n'est supprimé.
        try:
            self.api_data(response, dict)
        except InvalidResponse:
            pass  # réponse abîmée : la conversation n'est pas prouvée supprimée, rien ne change
        self.crawler.stats.inc_value("census/unlisted_present")
        return []

    def page_not_saved(self, item, response, spider, failure):
        if isinstance(item, ConversationsPage):
            self.abort("output_error", f"Page {item.page} non enregistrée : "
                                       f"{failure.getErrorMessage()} Arrêt de l'export.")

    # --- Récapitulatif ----------------------------------------------------------------
    def summary_lines(self):
        store = getattr(self, "store", None)
        if store is None or getattr(self, "walk", None) is None:
            return
        conversations_file, cursor = store.file, store.position()
        stats = self.crawler.stats
        total = len(conversations_file)
        stats.set_value("conversations/total", total)
        yield (f"Conversations exportées : {stats.get_value('conversations/exported', 0)} ; "
               f"ignorées car déjà présentes : {stats.get_value('conversations/ignored_present', 0)} ; "
               f"mises à jour : {stats.get_value('conversations/updated', 0)} ; "
               f"ignorées sans session_id : {stats.get_value('conversations/ignored_invalid', 0)}.")
        if conversations_file.path.exists():
            yield f"Le fichier {conversations_file.path} contient désormais {total} conversations."
        else:
            yield f"Aucun fichier écrit : {conversations_file.path} n'existe pas."
        if cursor.backfill_complete:
            yield ("Historique complet : les prochaines exécutions ne parcourront que le haut "
                   "de la liste.")
        else:
            yield (f"Historique incomplet : le rattrapage reprendra page {cursor.page_number} "
                   f"({store.per_page} par page).")


def page_url(spider, page: int, per_page: int) -> str:
    """Adresse d'une page de la liste (aussi celle du balayage du direct)."""
    params = {"per_page": per_page}
    if spider.settings.getbool("CRISP_CONVERSATIONS_INCLUDE_EMPTY"):
        params["include_empty"] = 1
    return spider.api_config.website_url("conversations", str(page)) + "?" + urlencode(params)


def parsed_page(spider, response, page: int, limit: int, stat: str):
    """La page de liste d'une réponse (``ConversationsPage``), ou la requête refaite si elle
    est abîmée ; ``stat`` compte les pages reçues (liste, ou balayage du direct)."""
    try:
        conversations = spider.api_data(response, list)
        _check_conversations(conversations)
    except InvalidResponse as exc:
        yield from spider.retry_or_fail(response.request, exc)
        return
    spider.crawler.stats.inc_value(stat)
    yield ConversationsPage(page, conversations, limit=limit)


def _check_conversations(page: list) -> None:
    """Chaque élément d'une page doit être un objet avec un session_id utilisable.

    Sinon la page est abîmée (souvent en passant) : elle est redemandée, comme un lot de
    messages abîmé, et n'est jamais marquée comme faite ; l'ignorer ferait perdre pour de
    bon les conversations qu'elle aurait dû contenir.
    """
    for conversation in page:
        if session_id_of(conversation) is None:
            raise InvalidResponse("invalid_conversation",
                                  "élément de la liste sans session_id (pas un objet ?)")
