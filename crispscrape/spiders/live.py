"""``scrapy crawl live [-a website=ID] [-a budget=N]`` : le compte en direct (issue 22).

Étapes et fichiers : l'adresse de la connexion en direct (ce fichier, un appel) -> la
connexion RTM tenue ouverte (crispscrape/rtm.py) -> chaque événement journalisé AVANT toute
application (signal ``live_event`` -> pipelines/live.py -> storage/journal.py).

L'araignée reste ouverte (``spider_idle``, comme scrapy-redis) tant que la connexion vit ;
les événements sont écrits dès leur arrivée, depuis les rappels de la connexion. Ctrl-C,
SIGTERM et ``cancel.json`` de scrapyd sont sa fin normale : ``live_stopped``, code 0.

Pas encore fait (issue 22, à suivre) : appliquer les événements aux fichiers de l'export
(messages, conversations, profils), la réconciliation, les web hooks.
"""

from __future__ import annotations

import os
from typing import Any

from scrapy import signals
from scrapy.exceptions import DontCloseSpider

from crispscrape.api import InvalidResponse
from crispscrape.compat import spawn
from crispscrape.config import IDENTIFIER, KEY, _credentials
from crispscrape.outcome import LIVE_STOPPED_FROM
from crispscrape.pipelines.live import KNOWN_EVENTS
from crispscrape.signals import live_event
from crispscrape.spiders.base import ExportSpider



class LiveSpider(ExportSpider):
    name = "live"
    default_nb = 0
    route_always_exists = True
    progress_key = "live/events"
    progress_unit = "événements"
    custom_settings = {
        "ITEM_PIPELINES": {"crispscrape.pipelines.live.LiveJournalPipeline": 300},
    }

    def __init__(self, *args, hooks=None, **kwargs):
        super().__init__(*args, **kwargs)
        # -a hooks=HÔTE:PORT : recevoir aussi les web hooks de Crisp (crispscrape/hooks.py).
        self.hooks = hooks
        self.hook_server: Any = None
        self.closing = False

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

    def export_requests(self):
        if self.hooks is not None:
            from crispscrape.hooks import HookServer

            self.hook_server = HookServer.from_settings(
                self.hooks, self.settings, self._hook_event, self.logger,
                website_id=self.config.website_id, stats=self.crawler.stats)
            spawn(self._listen())
        tier = self.config.tier
        url = f"{self.config.api_url}/{tier}/connect/endpoints"
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

    def keep_open(self, spider=None):
        if self.rtm is not None and not self.rtm.stopping:
            raise DontCloseSpider

    def closed(self, reason: str) -> None:
        self.closing = True
        if self.rtm is not None:
            spawn(self.rtm.stop())
        if self.hook_server is not None:
            spawn(self.hook_server.stop())
        super().closed("live_stopped" if reason in LIVE_STOPPED_FROM and self.rtm is not None
                       else reason)

    def summary_lines(self):
        stats = self.crawler.stats
        yield (f"Direct : {stats.get_value('live/events', 0)} événement(s) journalisé(s) dans "
               f"{self.config.data_dir / 'evenements'} ; {stats.get_value('live/ignored', 0)} "
               "ignoré(s) (inconnus).")
