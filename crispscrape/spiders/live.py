"""``scrapy crawl live [-a website=ID] [-a budget=N] [-a hooks=HÔTE:PORT]`` : le compte en direct.

Étapes et fichiers (issue 22) :
1. l'adresse de la connexion en direct (ce fichier, un appel), la connexion RTM tenue ouverte
   (crispscrape/rtm.py) et, avec ``-a hooks``, les web hooks (crispscrape/hooks.py) ;
2. chaque événement journalisé AVANT toute application (signal ``live_event`` ->
   pipelines/live.py -> storage/journal.py), puis appliqué aux fichiers par les pipelines
   ordinaires des messages (spiders/live_apply.py ; règles : paging/live.py) ;
3. les conversations touchées relues par REST une fois calmes, et la réconciliation
   (spiders/live_refresh.py), avec la pagination des messages de ``messages``.

L'araignée reste ouverte (``spider_idle``, comme scrapy-redis) tant que la connexion vit ;
les événements sont appliqués dès leur arrivée. Ctrl-C, SIGTERM et ``cancel.json`` de
scrapyd sont sa fin normale : ``live_stopped``, code 0. Il faut un export existant (la
liste des conversations) : ``scrapy crawl account`` d'abord.
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider

from crispscrape.api import InvalidResponse
from crispscrape.arguments import UNLIMITED
from crispscrape.compat import spawn
from crispscrape.config import IDENTIFIER, KEY, _credentials
from crispscrape.items import REMOVED
from crispscrape.outcome import LIVE_STOPPED_FROM
from crispscrape.pipelines.live import KNOWN_EVENTS, LiveJournalPipeline
from crispscrape.pipelines.messages import message_store
from crispscrape.signals import live_event
from crispscrape.spiders.live_apply import LiveApply
from crispscrape.spiders.live_profiles import PROFILE
from crispscrape.spiders.live_refresh import SETTLING_ENDS, SWEEP, LiveRefresh
from crispscrape.spiders.messages import ConversationFetch, MessagesSpider, Step


class LiveSpider(LiveApply, LiveRefresh, MessagesSpider):
    name = "live"
    default_nb = UNLIMITED
    flags: tuple[str, ...] = ()
    route_always_exists = True
    progress_key = "live/events"
    progress_unit = "événements"
    custom_settings = {
        "ITEM_PIPELINES": {
            "crispscrape.pipelines.removals.RemovalsPipeline": 50,
            "crispscrape.pipelines.conversations.ConversationsPipeline": 250,
            "crispscrape.pipelines.dedup.MessageDedupPipeline": 300,
            "crispscrape.pipelines.messages.MessageFilePipeline": 400,
            "crispscrape.pipelines.users.UsersPipeline": 450,
            "crispscrape.pipelines.attachments.AttachmentsPipeline": 500,
            "crispscrape.pipelines.live.LiveJournalPipeline": 600,
        },
        # Le contrôle périodique (moniteur « Direct coupé ») chaque minute, pas toutes les
        # 10 : une coupure de CRISP_LIVE_MAX_DOWN_MINUTES est dite à une minute près.
        "SPIDERMON_PERIODIC_MONITORS": {"crispscrape.monitors.suites.PeriodicMonitors": 60},
    }

    def __init__(self, *args, hooks=None, **kwargs):
        super().__init__(*args, **kwargs)
        # -a hooks=HÔTE:PORT : recevoir aussi les web hooks de Crisp (crispscrape/hooks.py).
        self.hooks = hooks
        self.hook_server: Any = None
        self.closing = False
        self._tasks: list[asyncio.Task] = []

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider.rtm = None
        crawler.signals.connect(spider.keep_open, signal=signals.spider_idle)
        return spider

    def check_settings(self) -> None:
        if self.hooks is not None:
            # Adresse et secrets vérifiés avant tout appel (jamais un point d'entrée ouvert).
            from crispscrape.hooks import check_hooks

            check_hooks(self.hooks, self.settings)

    def expected_work(self):
        return None

    def export_requests(self):
        self.batch_size = self.settings.getint("CRISP_MESSAGES_BATCH_SIZE")
        self.store = message_store(self.crawler)
        journal = LiveJournalPipeline.store_for(self.crawler)
        self.setup_apply()
        self.setup_refresh(journal)
        # Journalisé mais pas appliqué (arrêt brutal) : rejoué d'abord, dans l'ordre.
        for record in journal.pending():
            self._journaled(record["seq"], record.get("event"), record.get("data") or {})
        self._tasks = [spawn(self.apply_loop()), spawn(self.refresh_loop())]
        if self.hooks is not None:
            from crispscrape.hooks import HookServer

            self.hook_server = HookServer.from_settings(
                self.hooks, self.settings, self._hook_event, self.logger,
                website_id=self.config.website_id, stats=self.crawler.stats)
            spawn(self._listen())
        url = f"{self.config.api_url}/{self.config.tier}/connect/endpoints"
        yield self.api_request(url, self.parse_endpoints, dont_filter=True)

    async def _listen(self) -> None:
        """Les web hooks demandés (-a hooks) et impossibles à recevoir : le direct s'arrête
        plutôt que de tourner sans eux (l'erreur est dite par crispscrape/hooks.py)."""
        if not await self.hook_server.start() and not self.closing:
            self.abort("config_error", f"Web hooks impossibles à recevoir sur {self.hooks} "
                                       "(port déjà pris ?) : arrêt du direct.")

    def parse_endpoints(self, response):
        try:
            data = self.api_data(response, dict)
            app_url = data["socket"]["app"]
            if not isinstance(app_url, str):
                raise KeyError("app")
        except InvalidResponse as exc:
            yield from self.retry_or_fail(response.request, exc)
            return
        except (KeyError, TypeError):
            self.abort("bad_api_url", "L'API ne donne pas l'adresse de la connexion en direct "
                                      "(champ socket.app absent) : vérifiez CRISP_API_URL.")
            return
        # Importé ici : Scrapy charge toutes les araignées au départ de chaque commande, et
        # python-socketio (avec aiohttp) coûtait ~0,3 s de CPU à chacune (banc bench.cpu).
        from crispscrape.rtm import RtmConnection

        values = _credentials(self.settings, os.environ, self.website)
        self.rtm = RtmConnection(app_url, sorted(KNOWN_EVENTS), [self.config.website_id],
                                 self.config.tier, self._event, self._refused, self.logger,
                                 stats=self.crawler.stats)
        spawn(self.rtm.run(values[IDENTIFIER], values[KEY]))

    def _event(self, event: str, data, source: str = "rtm") -> str:
        """Un événement reçu : journalisé par pipelines/live.py ; rend ``journaled``,
        ``dropped`` (inconnu, oublié) ou ``failed`` (journal impossible à écrire)."""
        answers = self.crawler.signals.send_catch_log(live_event, source=source, event=event,
                                                      data=data)
        results = [result for _, result in answers if isinstance(result, str)]
        return results[0] if results else "failed"

    def _hook_event(self, event: str, data) -> str:
        return self._event(event, data, source="hook")

    def _refused(self, message: str) -> None:
        self.abort("unauthorized", message)

    # --- Relectures : la pagination des messages, prolongée ------------------------------
    def fetch_for(self, session_id: str, floor: int | None = None) -> ConversationFetch:
        return ConversationFetch(session_id, None, floor=floor)

    def next_step(self, batch, last, known, fetch, new) -> Step:
        """Comme ``messages``, mais une relecture descend jusqu'au plus ancien message écrit
        d'après un événement (chacun doit être remplacé par sa version REST) et, après une
        coupure, jusqu'à son début (``floor`` : ce que le flux a pu taire)."""
        stamps = [m["timestamp"] for m in batch]
        if stamps and fetch.spans and fetch.before is not None \
                and fetch.before >= fetch.spans[-1][0]:
            fetch.spans[-1][0] = min(fetch.spans[-1][0], min(stamps))  # suite d'un seul tenant
        elif stamps:
            # Premier lot, ou saut (fichier incomplet repris sous son plus ancien message) : ce
            # qui est entre les deux n'a pas été relu, rien n'y sera tenu pour supprimé.
            fetch.spans.append([min(stamps), max(stamps)])
        step = super().next_step(batch, last, known, fetch, new)
        oldest = min((t for t in ((self.journal.unsettled.get(fetch.session_id) or {})
                                  .get("oldest"), fetch.floor) if isinstance(t, int)), default=None)
        lowest = min(stamps, default=None)
        if step.end == "à jour" and oldest is not None and lowest is not None \
                and lowest >= oldest:
            following = lowest + 1
            if fetch.before is not None and following >= fetch.before:
                # Tout le lot dans une milliseconde : des messages peuvent être sautés.
                return Step(next_before=lowest, overflow=True)
            return Step(next_before=following)
        return step

    def removed_on_reread(self, fetch, known, step) -> list:
        """Toute relecture du direct est une preuve pour la partie relue : un message du
        fichier daté entre le plus ancien (exclu : la même milliseconde peut continuer dans le
        lot suivant, sauf au début de l'historique) et le plus récent message relus, qu'elle
        n'a pas revu, a été supprimé chez Crisp (son message:removed perdu par le flux, ou
        envoyé pendant une coupure)."""
        if step.end not in SETTLING_ENDS or not fetch.spans:
            return []
        spans = [list(span) for span in fetch.spans]
        if fetch.reached_start:  # la dernière plage descend jusqu'au premier message (un 200)
            spans[-1][0] = -1
        inside = [key for key, message in known.stored.items()
                  if isinstance(stamp := message.get("timestamp"), int)
                  and any(low < stamp <= high for low, high in spans)]
        removed = self._removed_messages(fetch, known, [k for k in inside if k not in fetch.seen],
                                         "absent de la relecture du direct", len(inside))
        # Comme après un message:removed : jamais réécrits, leurs traces effacées au calme.
        self._gone.update(f"{fetch.session_id}:{key}" for key in removed)
        self.erase_due = self.erase_due or bool(removed)
        return removed

    def _refresh_done(self, item, response=None, spider=None) -> None:
        if getattr(item, "end", None) == REMOVED:
            self._gone.add(item.session_id)
            self.erase_due = True
        super()._refresh_done(item, response, spider)

    def resource_missing(self, request):
        if request.meta.get(PROFILE):
            # Plus de fiche (404) : rien n'est supprimé sur ce seul signe (l'événement
            # people:profile:removed, lui, en est la preuve) ; le profil est réglé.
            self.crawler.stats.inc_value("live/profile_missing")
            self.profile_answered(request.cb_kwargs["people_id"], True)
            return []
        if request.meta.get(SWEEP):
            self.stop("bad_api_url", f"L'API répond 404 sur la liste des conversations "
                                     f"({request.url}) : vérifiez CRISP_API_URL.")
        return super().resource_missing(request)

    def _unfinished(self, request, why: str):
        if request.meta.get(SWEEP):
            return self.sweep_failed()
        if request.meta.get(PROFILE):
            self.profile_answered(request.cb_kwargs["people_id"], False)  # réessayé plus tard
            return []
        if "fetch" not in request.cb_kwargs:
            return []  # l'adresse de la connexion : l'échec est déjà dit et compté
        return super()._unfinished(request, why)

    # --- Vie et fin -----------------------------------------------------------------------
    def keep_open(self, spider=None):
        if self.rtm is not None and not self.rtm.stopping:
            raise DontCloseSpider

    def closed(self, reason: str) -> None:
        self.closing = True
        for task in self._tasks:
            task.cancel()
        if self.rtm is not None:
            spawn(self.rtm.stop())
        if self.hook_server is not None:
            spawn(self.hook_server.stop())
        super().closed("live_stopped" if reason in LIVE_STOPPED_FROM and self.rtm is not None
                       else reason)

    def summary_lines(self):
        stats = self.crawler.stats
        yield (f"Direct : {stats.get_value('live/events', 0)} événement(s) journalisé(s) dans "
               f"{self.config.data_dir / 'evenements'}, {stats.get_value('live/applied', 0)} "
               f"appliqué(s) ; {stats.get_value('live/ignored', 0)} ignoré(s) (inconnus).")
        yield (f"Relectures : {stats.get_value('live/settled', 0)} conversation(s) réglée(s), "
               f"{stats.get_value('live/unsettled', 0)} en attente ; "
               f"{stats.get_value('live/reconciliations', 0)} réconciliation(s).")
