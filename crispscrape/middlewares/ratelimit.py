"""Ralentissement (429/420), quota (423), et attente de chaque requête avant son envoi.

- **429/420** : la requête est redemandée, jamais abandonnée au bout de RETRY_TIMES.
  Retry-After est lu ici, une seule fois : la requête attend l'échéance, et tout son slot
  fait une pause jusque-là (puis reprend à son rythme) ; sans Retry-After, recul
  exponentiel avec gigue (CRISP_THROTTLE_BASE_DELAY, plafond CRISP_THROTTLE_MAX_DELAY).
  L'attente cumulée du crawl est plafonnée (CRISP_THROTTLE_MAX_TOTAL_WAIT) : au-delà, arrêt
  propre, finish_reason = "quota". Le rythme de tout le crawl, lui, est l'affaire du
  limiteur de débit de CrispAutoThrottle, qui a vu la réponse avant ce middleware.
- **423** (quota quotidien épuisé) : attendre ne sert à rien ; arrêt propre « quota ».
- **Avant l'envoi** : une requête qui porte une attente (meta crisp_backoff : réessai,
  ralentissement, réponse illisible redemandée par l'araignée) attend ici en gardant sa
  place, les autres continuent. L'attente s'interrompt dès que le crawl s'arrête, et plus
  rien ne part ensuite ; les slots retenus par un délai ou une pause sont alors libérés,
  pour que l'arrêt n'attende pas la fin d'une pause de 30 s.
"""

from __future__ import annotations

import asyncio
import logging

from scrapy import signals

from crispscrape import compat
from crispscrape.file_refs import FILE_META
from crispscrape.api import QUOTA_STATUS, THROTTLE_STATUSES, QuotaExceeded, retry_after_seconds
from crispscrape.middlewares.retry import BACKOFF_META, backoff

logger = logging.getLogger(__name__)

QUOTA_REASON = "quota"
# Meta : nombre de refus de débit déjà essuyés par cette requête.
THROTTLED_META = "crisp_throttled"
# Pas de l'attente interruptible, et de la surveillance de l'arrêt (secondes).
POLL = 0.1


class CrispRateLimitMiddleware:
    """Redemande les requêtes ralenties, arrête proprement sur quota, fait attendre les reculs."""

    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats
        settings = crawler.settings
        self.base_delay = settings.getfloat("CRISP_THROTTLE_BASE_DELAY")
        self.max_delay = settings.getfloat("CRISP_THROTTLE_MAX_DELAY")
        self.max_total_wait = settings.getfloat("CRISP_THROTTLE_MAX_TOTAL_WAIT")
        self.total_wait = 0.0
        self.quota_reached = False

    @classmethod
    def from_crawler(cls, crawler):
        middleware = cls(crawler)
        crawler.signals.connect(middleware._spider_opened, signal=signals.spider_opened)
        return middleware

    # --- Arrêt -------------------------------------------------------------------------
    def _spider_opened(self, spider=None) -> None:
        # Scrapy n'émet aucun signal quand l'arrêt commence : une petite tâche le guette.
        compat.spawn(self._release_slots_on_stop())

    async def _release_slots_on_stop(self) -> None:
        while not self._stopping():
            await asyncio.sleep(POLL)
        downloader = self.crawler.engine.downloader
        for slot in list(downloader.slots.values()):
            compat.release_slot(downloader, slot)

    def _stopping(self) -> bool:
        return self.quota_reached or not self.crawler.crawling

    def _stop_for_quota(self, message: str) -> None:
        if self.quota_reached:
            return
        self.quota_reached = True
        self.stats.inc_value("crisp_throttle/quota_exceeded")
        logger.warning("%s Arrêt propre : l'état est sauvegardé, la prochaine exécution "
                       "reprendra exactement ici.", message)
        compat.spawn(self.crawler.engine.close_spider_async(reason=QUOTA_REASON))

    # --- Avant l'envoi -----------------------------------------------------------------
    async def process_request(self, request, spider=None):
        # Le recul se fait ici, juste avant l'envoi : la requête occupe une place de
        # concurrence pendant l'attente, les autres continuent (au rythme du slot).
        delay = request.meta.pop(BACKOFF_META, 0)
        if delay:
            loop = asyncio.get_running_loop()
            end = loop.time() + delay
            # Attente interruptible : un arrêt (SIGTERM, quota) n'attend pas la fin du recul.
            while not self._stopping() and (left := end - loop.time()) > 0:
                await asyncio.sleep(min(left, POLL))
        if self._stopping():
            raise QuotaExceeded("arrêt en cours : requête non envoyée")
        return None

    # --- Réponses ----------------------------------------------------------------------
    def process_response(self, request, response, spider=None):
        if request.meta.get(FILE_META):
            # Pièce jointe : un 423 ou un 429 de son hôte ne dit rien du quota de l'API.
            return response
        if response.status == QUOTA_STATUS:
            self._stop_for_quota(
                "Quota quotidien de l'API Crisp atteint (423 quota_limit_exceeded)."
            )
            raise QuotaExceeded("quota quotidien atteint")
        if response.status in THROTTLE_STATUSES and not request.meta.get("dont_retry"):
            return self._throttled(request, response)
        return response

    def _throttled(self, request, response):
        attempt = request.meta.get(THROTTLED_META, 0) + 1
        requested = retry_after_seconds(response)
        wait = requested
        if wait is None:
            wait = backoff(self.base_delay, attempt, self.max_delay)
        self.stats.inc_value("crisp_throttle/throttled")
        self.stats.inc_value(f"crisp_throttle/status/{response.status}")
        if self.total_wait + wait > self.max_total_wait:
            self._stop_for_quota(
                f"Ralentissement trop long : plus de {self.max_total_wait:.0f} s d'attente "
                "cumulée (CRISP_THROTTLE_MAX_TOTAL_WAIT)."
            )
            raise QuotaExceeded("plafond d'attente atteint")
        if requested is not None:
            self._pause_slot(request, min(requested, self.max_delay))
        self.total_wait += wait
        self.stats.set_value("crisp_throttle/wait_seconds", round(self.total_wait, 3))
        logger.info("API ralentie (HTTP %s) : nouvel essai de %s dans %.2f s.",
                    response.status, request.url, wait)
        retry = request.replace(dont_filter=True)
        retry.meta[THROTTLED_META] = attempt
        retry.meta[BACKOFF_META] = wait
        return retry

    def _pause_slot(self, request, seconds: float) -> None:
        """Retry-After demande une pause, pas un nouveau rythme : le slot n'envoie plus rien
        avant l'échéance, puis reprend au rythme de son délai."""
        downloader = self.crawler.engine.downloader
        slot = downloader.slots.get(request.meta.get(downloader.DOWNLOAD_SLOT))
        if slot is not None:
            compat.pause_slot(slot, seconds)
