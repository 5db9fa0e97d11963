"""Réessais avec recul, et traitement du ralentissement (429/420) et du quota (423).

Le RetryMiddleware de Scrapy réessaie tout de suite et abandonne après RETRY_TIMES : bien
pour un 500 isolé, pas pour une API qui demande de ralentir. Cette sous-classe :

- 5xx et erreurs réseau : même limite RETRY_TIMES, mais chaque réessai attend un recul
  exponentiel avec gigue (CRISP_RETRY_BASE_DELAY) ;
- 429/420 : Retry-After respecté s'il est présent, sinon recul exponentiel avec gigue
  (CRISP_THROTTLE_BASE_DELAY, plafonné par CRISP_THROTTLE_MAX_DELAY) ; la requête n'est
  jamais abandonnée pour autant, mais le temps d'attente total du crawl est plafonné
  (CRISP_THROTTLE_MAX_TOTAL_WAIT) ; le délai du slot, lui, est relevé par l'extension
  CrispAutoThrottle pour que tout le crawl ralentisse ;
- 423 (quota quotidien) ou plafond atteint : fermeture propre, finish_reason = "quota".
"""

from __future__ import annotations

import asyncio
import logging
import random

from scrapy import signals
from scrapy.downloadermiddlewares.retry import RetryMiddleware

from crispscrape import compat
from crispscrape.api import QUOTA_STATUS, THROTTLE_STATUSES, QuotaExceeded, retry_after_seconds

logger = logging.getLogger(__name__)

QUOTA_REASON = "quota"


def backoff(base: float, attempt: int, cap: float) -> float:
    """Recul exponentiel avec gigue (« equal jitter ») : entre la moitié et la totalité du palier."""
    step = min(cap, base * 2 ** max(0, attempt - 1))
    return step / 2 + random.uniform(0, step / 2)


class CrispRetryMiddleware(RetryMiddleware):
    """RetryMiddleware qui recule avant chaque réessai et ne lâche jamais une requête ralentie."""

    def __init__(self, crawler):
        super().__init__(crawler.settings)
        self.crawler = crawler
        self.stats = crawler.stats
        settings = crawler.settings
        self.retry_base_delay = settings.getfloat("CRISP_RETRY_BASE_DELAY")
        self.throttle_base_delay = settings.getfloat("CRISP_THROTTLE_BASE_DELAY")
        self.throttle_max_delay = settings.getfloat("CRISP_THROTTLE_MAX_DELAY")
        self.max_total_wait = settings.getfloat("CRISP_THROTTLE_MAX_TOTAL_WAIT")
        self.total_wait = 0.0
        self.quota_reached = False

    @classmethod
    def from_crawler(cls, crawler):
        middleware = cls(crawler)
        crawler.signals.connect(middleware._spider_opened, signal=signals.spider_opened)
        return middleware

    def _spider_opened(self, spider=None) -> None:
        # Scrapy n'émet aucun signal quand l'arrêt commence : une petite tâche le guette.
        compat.spawn(self._release_slots_on_stop())

    async def _release_slots_on_stop(self) -> None:
        while not self._stopping():
            await asyncio.sleep(0.1)
        self._release_slots()

    async def process_request(self, request, spider=None):
        # Le recul se fait ici, juste avant l'envoi : la requête occupe une place de
        # concurrence pendant l'attente, les autres continuent (au rythme du slot).
        delay = request.meta.pop("crisp_backoff", 0)
        if delay:
            loop = asyncio.get_running_loop()
            end = loop.time() + delay
            # Attente interruptible : un arrêt (SIGTERM, quota) n'attend pas la fin du recul.
            while not self._stopping() and (left := end - loop.time()) > 0:
                await asyncio.sleep(min(left, 0.1))
        if self._stopping():
            raise QuotaExceeded("arrêt en cours : requête non envoyée")
        return None

    def _stopping(self) -> bool:
        return self.quota_reached or not self.crawler.crawling

    def _release_slots(self) -> None:
        """Arrêt : les requêtes déjà en file dans un slot (derrière un long délai ou une pause
        Retry-After) partent tout de suite au lieu de faire attendre l'arrêt ; Scrapy attend
        en effet que chaque requête en cours soit finie avant de fermer."""
        downloader = self.crawler.engine.downloader
        for slot in list(downloader.slots.values()):
            compat.release_slot(downloader, slot)

    def process_response(self, request, response, spider=None):
        if response.status == QUOTA_STATUS:
            self._stop_for_quota(
                "Quota quotidien de l'API Crisp atteint (423 quota_limit_exceeded)."
            )
            raise QuotaExceeded("quota quotidien atteint")
        if response.status in THROTTLE_STATUSES and not request.meta.get("dont_retry"):
            return self._throttled(request, response)
        return super().process_response(request, response)

    def _throttled(self, request, response):
        attempt = request.meta.get("crisp_throttled", 0) + 1
        wait = retry_after_seconds(response)
        if wait is None:
            wait = backoff(self.throttle_base_delay, attempt, self.throttle_max_delay)
        self.stats.inc_value("crisp_throttle/throttled")
        self.stats.inc_value(f"crisp_throttle/status/{response.status}")
        if self.total_wait + wait > self.max_total_wait:
            self._stop_for_quota(
                f"Ralentissement trop long : plus de {self.max_total_wait:.0f} s d'attente "
                "cumulée (CRISP_THROTTLE_MAX_TOTAL_WAIT)."
            )
            raise QuotaExceeded("plafond d'attente atteint")
        self.total_wait += wait
        self.stats.set_value("crisp_throttle/wait_seconds", round(self.total_wait, 3))
        logger.info("API ralentie (HTTP %s) : nouvel essai de %s dans %.2f s.",
                    response.status, request.url, wait)
        retry = request.replace(dont_filter=True)
        retry.meta["crisp_throttled"] = attempt
        retry.meta["crisp_backoff"] = wait
        return retry

    def _retry(self, request, reason):
        retry = super()._retry(request, reason)
        if retry is not None:
            retry.meta["crisp_backoff"] = backoff(
                self.retry_base_delay, retry.meta["retry_times"], self.throttle_max_delay)
        return retry

    def _stop_for_quota(self, message: str) -> None:
        if self.quota_reached:
            return
        self.quota_reached = True
        self.stats.inc_value("crisp_throttle/quota_exceeded")
        logger.warning("%s Arrêt propre : l'état est sauvegardé, la prochaine exécution "
                       "reprendra exactement ici.", message)
        compat.spawn(self.crawler.engine.close_spider_async(reason=QUOTA_REASON))
