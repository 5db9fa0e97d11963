"""AutoThrottle adapté à l'API Crisp : latence comme Scrapy, plus un limiteur de débit.

L'AutoThrottle de Scrapy ne réagit qu'à la latence, et ne réduit jamais le délai sur une
réponse autre que 200. Or l'API répond 206 pour chaque lot de messages qui n'est pas le
dernier, et 429/420 quand elle veut qu'on ralentisse. Cette sous-classe :

- traite 206 comme 200 pour le délai dicté par la latence ;
- tient, par slot, un limiteur de débit (crispscrape/extensions/ratelimiter.py) nourri de
  chaque réponse : il trouve le débit que l'API permet après un 429/420, y revient, et ne
  prend pas des refus sporadiques (sans rapport avec notre rythme) pour une limite ;
- impose au slot le plus long des deux délais : celui de la latence, celui du limiteur.

Le signal response_downloaded, qui nourrit AutoThrottle, part avant les middlewares : ce
module voit donc chaque 429 avant CrispRateLimitMiddleware, qui redemande la requête et
lit seul l'en-tête Retry-After (pause du slot comprise).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from scrapy.extensions.throttle import AutoThrottle

from crispscrape import compat
from crispscrape.api import THROTTLE_STATUSES
from crispscrape.extensions.ratelimiter import RateLimiter

logger = logging.getLogger(__name__)

# Événements du limiteur : statistique crisp_throttle/<nom>, message pour le journal, et
# débit qu'il cite (attribut du limiteur).
EVENTS = {
    "cut": ("slowdowns", "API ralentie : débit ramené à %.1f req/s, le temps de vérifier.",
            "rate"),
    "deeper": ("slowdowns", "Refus toujours nombreux : débit ramené à %.1f req/s.", "rate"),
    "confirmed": ("limits_found", "Limite de débit trouvée : le débit remonte vers %.1f req/s.",
                  "ceiling"),
    "undone": ("slowdowns_undone", "Refus sans rapport avec notre rythme : débit d'avant "
                                   "rétabli ; les refus isolés sont ignorés un temps.", None),
    "released": ("limits_released", "Le débit permis ne limite plus rien : limite oubliée.",
                 None),
}


@dataclass(eq=False)
class _SlotState:
    """Ce que l'extension retient d'un slot de téléchargement."""

    limiter: RateLimiter
    latency_delay: float | None = None  # délai dicté par la latence, sans le limiteur


class CrispAutoThrottle(AutoThrottle):
    """AutoThrottle qui comprend 206 et trouve le débit permis après un 429/420."""

    def __init__(self, crawler):
        # Notre comportement passe par cette surcharge : si Scrapy la renomme, on le dit.
        compat.require_method(AutoThrottle, "_adjust_delay", ("slot", "latency", "response"))
        super().__init__(crawler)
        settings = crawler.settings
        self.stats = crawler.stats
        self._limiter_options = {
            "cut_factor": settings.getfloat("CRISP_THROTTLE_DELAY_FACTOR"),
            "recovery_time": settings.getfloat("CRISP_THROTTLE_RECOVERY_TIME"),
            "probe_rate": settings.getfloat("CRISP_THROTTLE_PROBE_RATE"),
            "min_rate": 1 / settings.getfloat("AUTOTHROTTLE_MAX_DELAY"),
        }
        self.max_delay = settings.getfloat("AUTOTHROTTLE_MAX_DELAY")
        self.clock = time.monotonic  # remplaçable dans les tests
        # Par slot. Simple dict : les Slot de Scrapy n'acceptent pas de référence faible, et
        # un crawl Crisp n'en a qu'un ou deux (un par hôte).
        self._slots: dict = {}

    def _state(self, slot) -> _SlotState:
        state = self._slots.get(slot)
        if state is None:
            state = self._slots[slot] = _SlotState(RateLimiter(**self._limiter_options))
        return state

    def _adjust_delay(self, slot, latency, response):
        state = self._state(slot)
        refused = response.status in THROTTLE_STATUSES
        if not refused:
            # AutoThrottle règle son délai sur la latence, sans le plancher du limiteur.
            if state.latency_delay is not None:
                slot.delay = state.latency_delay
            if response.status == 206:
                response = response.replace(status=200)
            super()._adjust_delay(slot, latency, response)
            state.latency_delay = slot.delay
        event = state.limiter.record(self.clock(), refused, latency)
        if event is not None:
            self._report(event, state.limiter)
        base = slot.delay if state.latency_delay is None else state.latency_delay
        slot.delay = min(max(base, state.limiter.min_delay()), self.max_delay)

    def _report(self, event: str, limiter: RateLimiter) -> None:
        stat, message, attribute = EVENTS[event]
        self.stats.inc_value(f"crisp_throttle/{stat}")
        if attribute is None:
            logger.info(message)
        else:
            logger.info(message, getattr(limiter, attribute))
