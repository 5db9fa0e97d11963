"""Araignée commune des systèmes « en avant » (Ninja, Wanzo) : liste, puis messages.

Étapes et fichiers (un par étape) : requêtes et pagination (ce fichier ; règles de page dans
paging/chat.py et l'adaptateur du système) -> items ``ListingPage`` et ``MessageBatch``
(items.py) -> liste écrite d'un coup (pipelines/catalog.py) -> dédoublonnage par id
(pipelines/dedup.py) -> écriture triée et atomique (pipelines/messages.py,
storage/messages.py) -> état de reprise (storage/cursor.py, paging/cursor.py, paging/selection.py).

1. La liste entière est relevée (c'est le seul moyen de voir ce qui a changé), page après
   page, refaite si elle a bougé pendant le parcours ; le fichier est écrit à la fin.
2. Puis seules les conversations nouvelles, changées (empreinte de la liste) ou incomplètes
   reçoivent des appels, en repartant du plus récent message sur disque. Une sous-classe ne
   fournit que ``name`` et ``source`` (voir ninja.py, wanzo.py).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from scrapy import signals

from crispscrape.api import InvalidResponse
from crispscrape.arguments import UNLIMITED
from crispscrape.items import ListingPage, MessageBatch
from crispscrape.pipelines.messages import message_store
from crispscrape.paging.chat import ChatListWalk
from crispscrape.spiders.base import ExportSpider
from crispscrape.spiders.ends import ConversationEnds
from crispscrape.signals import conversation_restored
from crispscrape.spiders.removals import ChatRemovalCheck
from crispscrape.pipelines.catalog import CatalogPipeline
from crispscrape.storage.layout import ExportLayout
from crispscrape.storage.suppressions import SuppressionLog, removal_kind
from crispscrape.summary import messages_summary
from crispscrape.storage.files import StorageError
from crispscrape.paging.selection import Policy


@dataclass
class ChatConversationFetch:
    """Où en est la pagination d'une conversation pendant cette exécution."""

    conversation_id: str
    rank: int | None
    page: dict
    # Vrai si la première page partait du plus récent message sur disque.
    anchored: bool = False
    restarted: bool = False
    seen: set = field(default_factory=set)


class ChatSpider(ChatRemovalCheck, ConversationEnds, ExportSpider):
    # nb = conversations qui reçoivent des appels ; par défaut, toutes celles qui en ont besoin.
    default_nb = UNLIMITED
    route_always_exists = True
    progress_key = "messages/conversations_done"
    progress_unit = "conversations"
    _paging: dict[str, ChatConversationFetch]
    # Nombre de messages annoncé par la liste, par conversation (Wanzo : messageCount).
    _expected: dict[str, int]
    _mismatches: int
    _listing_done: asyncio.Event
    _listing_ok: bool
    _walk: ChatListWalk
    # Conversations vues dans la liste de cette exécution (toutes, si elle est complète).
    _listed: set[str]
    custom_settings = {
        "ITEM_PIPELINES": {
            # Le dernier fermé : efface ce que le système a supprimé (pipelines/removals.py).
            "crispscrape.pipelines.removals.RemovalsPipeline": 50,
            "crispscrape.pipelines.catalog.CatalogPipeline": 200,
            "crispscrape.pipelines.dedup.MessageDedupPipeline": 300,
            "crispscrape.pipelines.messages.MessageFilePipeline": 400,
        },
    }

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        if kwargs.get("website") is not None:
            # -a website=ID est propre à Crisp : refusé plutôt qu'ignoré en silence.
            kwargs = {**kwargs, "website": None, "_chat_website": True}
        spider = super().from_crawler(crawler, *args, **kwargs)
        if kwargs.get("_chat_website"):
            spider.startup_error = ("bad_argument", f"-a website=… est propre à Crisp ; "
                                                    f"« {cls.name} » n'en a pas besoin.")
        spider._paging = {}
        spider._expected = {}
        spider._mismatches = 0
        spider._listing_done = asyncio.Event()
        spider._listing_ok = False
        spider._listed = set()
        crawler.signals.connect(spider._item_passed, signal=signals.item_scraped)
        return spider

    async def export_requests(self):
        self.store = message_store(self.crawler)
        self._walk = ChatListWalk(self.source.list_limit,
                              self.settings.getint("CHAT_LIST_MAX_PASSES", 3))
        yield self._list_request(0)
        await self._listing_done.wait()
        if not self._listing_ok:
            return
        removed = SuppressionLog(ExportLayout(self.config.data_dir).suppressions).removed(
            removal_kind(self.source.name))
        for conversation_id in sorted(removed & self._listed):
            # De nouveau dans la liste : elle existe, sa suppression est levée.
            self.crawler.signals.send_catch_log(conversation_restored,
                                                session_id=conversation_id)
        removed -= self._listed
        if self._walk.complete():
            # La liste entière vient d'être vue : les connues qui n'y sont plus sont vérifiées.
            catalog = CatalogPipeline.store_for(self.crawler)
            for request in self.unlisted_requests(catalog.loaded, self._listed, removed,
                                                  self._first_fetch):
                yield request
        # Pas de fenêtre de revérification : « since »/« after » ne montrent jamais une
        # modification de message, un appel de plus n'apprendrait rien.
        policy = Policy(lookback_days=0, removed=frozenset(removed))
        for rank, conversation_id in self.store.plan(self.nb, policy):
            try:
                known = self.store.known(conversation_id, rank)
            except StorageError as exc:
                self.crawler.stats.inc_value("crisp_api/failed")
                self.logger.error("%s", exc)
                yield MessageBatch(conversation_id, rank, end="fichier")
                continue
            # Un fichier aux lignes illisibles a peut-être des trous : relu depuis le début.
            stored = [] if known.unreadable else list(known.stored)
            page = self.source.first_page(stored)
            yield self._page_request(ChatConversationFetch(conversation_id, rank, page, anchored=bool(stored)))

    # --- Liste --------------------------------------------------------------------------
    def _list_request(self, offset: int):
        return self.api_request(self.source.list_url(self.api_config, offset), self.parse_list,
                                cb_kwargs={"offset": offset}, dont_filter=True)

    def parse_list(self, response, offset: int):
        try:
            payload = self.api_data(response, dict)
            conversations, total = self.source.read_list(payload)
        except InvalidResponse as exc:
            yield from self.retry_or_fail(response.request, exc)
            return
        model = self.source.model
        ids = [i for i in map(model.conversation_id, conversations) if i is not None]
        self._listed.update(ids)
        following = self._walk.page(ids, total)
        if following is None:
            if not self._walk.complete():
                self.crawler.stats.inc_value("listing/still_moving")
                self.logger.warning("La liste des conversations bougeait encore après %d "
                                    "parcours : celles qui manquent viendront à la prochaine "
                                    "exécution.", self._walk.passes)
            self.crawler.stats.set_value("listing/passes", self._walk.passes)
            yield ListingPage(conversations, final=True)
            return
        yield ListingPage(conversations)
        yield self._list_request(following)

    def _first_fetch(self, conversation_id: str) -> ChatConversationFetch:
        return ChatConversationFetch(conversation_id, None, self.source.first_page([]))

    # --- Messages -------------------------------------------------------------------------
    def _page_request(self, fetch: ChatConversationFetch, priority: int = 0):
        url = self.source.messages_url(self.api_config, fetch.conversation_id, fetch.page)
        return self.api_request(url, self.parse_messages, cb_kwargs={"fetch": fetch},
                                priority=priority, dont_filter=True)

    def parse_messages(self, response, fetch: ChatConversationFetch):
        try:
            payload = self.api_data(response, dict)
            messages, following = self.source.read_messages(payload, fetch.page)
        except InvalidResponse as exc:
            yield from self.retry_or_fail(response.request, exc)
            return
        key = self.source.model.message_key
        keys = [key(m) for m in messages]
        fresh = [k for k in keys if k not in fetch.seen]
        fetch.seen.update(keys)
        end: str | None = None
        if following is None:
            end = "fin"
            if self._should_restart(fetch):
                # Le fichier compterait moins de messages que l'API n'en annonce : la reprise
                # « après le plus récent » a pu en sauter ; on relit depuis le début, une fois.
                fetch.restarted, fetch.anchored = True, False
                following = self.source.first_page([])
                end = None
                self.crawler.stats.inc_value("messages/restarted_from_start")
        elif not fresh:
            # La page suivante n'apporte rien de neuf : l'API ne suit pas sa documentation.
            # On s'arrête (fichier gardé d'un seul tenant, conversation reprise plus tard).
            self.crawler.stats.inc_value("messages/pagination_stuck")
            self.logger.warning("Conversation %s : la pagination n'avance plus (page déjà "
                                "vue) ; elle sera reprise à la prochaine exécution.",
                                fetch.conversation_id)
            yield MessageBatch(fetch.conversation_id, fetch.rank, messages, end="bloquée",
                               full_order=not fetch.anchored)
            return
        if following is not None:
            fetch.page = following
            self._paging[fetch.conversation_id] = fetch
        yield MessageBatch(fetch.conversation_id, fetch.rank, messages, end=end,
                           complete=end is not None, full_order=not fetch.anchored)

    def _should_restart(self, fetch: ChatConversationFetch) -> bool:
        expected = self._expected.get(fetch.conversation_id)
        if expected is None or not fetch.anchored:
            return False
        known = self.store.known(fetch.conversation_id, fetch.rank)
        have = set(known.stored) | set(known.received) | fetch.seen
        return len(have) < expected

    def _item_passed(self, item, response=None, spider=None):
        """Un item est passé par les pipelines : page suivante, ou fin du relevé de la liste."""
        if isinstance(item, ListingPage):
            for conversation in item.usable:
                count = self.source.expected_count(conversation)
                conversation_id = self.source.model.conversation_id(conversation)
                if count is not None and conversation_id is not None:
                    self._expected[conversation_id] = count
            if item.final:
                if item.write_error:
                    self.abort("output_error", item.write_error)
                self._listing_ok = not item.write_error
                self._listing_done.set()
            return
        if not isinstance(item, MessageBatch) or item.end is not None:
            return
        fetch = self._paging.pop(item.session_id, None)
        if fetch is not None:
            # Priorité aux conversations commencées : peu de fichiers ouverts à la fois.
            self.crawler.engine.crawl(self._page_request(fetch, priority=1))

    def conversation_finished(self, done) -> None:
        expected = self._expected.get(done.session_id)
        if done.complete and done.total is not None and expected is not None \
                and done.total != expected:
            self._mismatches += 1
            self.crawler.stats.inc_value("messages/count_mismatch")
            self.logger.warning("Conversation %s : %d message(s) dans le fichier, l'API en "
                                "annonce %d.", done.session_id, done.total, expected)

    # --- Fins anormales -----------------------------------------------------------------
    def _unfinished(self, request, why: str):
        fetch = request.cb_kwargs.get("fetch")
        if fetch is None:
            # La liste n'a pas pu être relevée : aucun message n'est demandé.
            self._listing_done.set()
            return []
        return [MessageBatch(fetch.conversation_id, fetch.rank, end=why)]

    def stop(self, reason: str, message: str):
        self._listing_done.set()
        super().stop(reason, message)

    def abort(self, reason: str, message: str) -> None:
        self._listing_done.set()
        super().abort(reason, message)

    # --- Récapitulatif --------------------------------------------------------------------
    def summary_lines(self):
        stats = self.crawler.stats
        yield (f"Liste : {stats.get_value('listing/conversations', 0)} conversation(s) dans "
               f"{self.source.model.listing_name} ({stats.get_value('listing/new', 0)} "
               f"nouvelle(s), {stats.get_value('listing/updated', 0)} changée(s)).")
        yield from messages_summary(stats, self.store)
        if self._mismatches:
            yield (f"Nombre de messages différent de celui annoncé par l'API : "
                   f"{self._mismatches} conversation(s) (voir plus haut).")
