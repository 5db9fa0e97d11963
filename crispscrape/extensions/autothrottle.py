"""AutoThrottle adapté à l'API Crisp.

L'AutoThrottle de Scrapy ne réagit qu'à la latence et ne réduit jamais le délai sur une
réponse autre que 200. Or l'API répond 206 pour chaque lot de messages qui n'est pas le
dernier : sans correction, un seul ralentissement ne serait jamais relâché. Cette
sous-classe :

- traite 206 comme 200 ;
- sur 429/420, relève le délai du slot (multiplié par CRISP_THROTTLE_DELAY_FACTOR, au plus
  une fois par intervalle de délai pour qu'une rafale de 429 simultanés ne compte qu'une
  fois) : tout le crawl ralentit ;
- ensuite relâche ce délai doucement (CRISP_THROTTLE_RELAX_FACTOR par réponse correcte)
  au lieu de le diviser par deux d'un coup, pour ne pas retomber aussitôt sur la limite.

Le signal response_downloaded, qui nourrit AutoThrottle, part avant les middlewares : ce
module voit donc chaque 429 avant CrispRateLimitMiddleware, qui redemande la requête et
lit seul l'en-tête Retry-After (pause du slot comprise).
"""

from __future__ import annotations

import time

from scrapy.extensions.throttle import AutoThrottle

from crispscrape import compat
from crispscrape.api import THROTTLE_STATUSES


class CrispAutoThrottle(AutoThrottle):
    """AutoThrottle qui comprend 206 et ralentit vraiment tout le crawl après un 429/420."""

    def __init__(self, crawler):
        # Notre comportement passe par cette surcharge : si Scrapy la renomme, on le dit.
        compat.require_method(AutoThrottle, "_adjust_delay", ("slot", "latency", "response"))
        super().__init__(crawler)
        settings = crawler.settings
        self.increase_factor = settings.getfloat("CRISP_THROTTLE_DELAY_FACTOR")
        self.relax_factor = settings.getfloat("CRISP_THROTTLE_RELAX_FACTOR")
        self.min_throttle_delay = settings.getfloat("CRISP_THROTTLE_MIN_SLOT_DELAY")
        # Plancher de délai imposé par le dernier ralentissement, par slot. Simples dict :
        # les Slot de Scrapy n'acceptent pas de référence faible, et un crawl Crisp n'en a
        # qu'un ou deux (un par hôte).
        self._floors: dict = {}
        self._last_increase: dict = {}

    def _adjust_delay(self, slot, latency, response):
        if response.status in THROTTLE_STATUSES:
            self._slow_down(slot, response)
            return
        if response.status == 206:
            response = response.replace(status=200)
        floor = self._floors.get(slot)
        super()._adjust_delay(slot, latency, response)
        if floor is None:
            return
        floor *= self.relax_factor
        if floor <= slot.delay:
            # Le délai dicté par la latence suffit à nouveau : le plancher disparaît.
            del self._floors[slot]
            return
        self._floors[slot] = floor
        slot.delay = floor

    def _slow_down(self, slot, response):
        now = time.monotonic()
        if now - self._last_increase.get(slot, 0.0) >= slot.delay:
            self._last_increase[slot] = now
            raised = max(slot.delay * self.increase_factor, self.min_throttle_delay)
            slot.delay = min(raised, self.maxdelay)
            self._floors[slot] = slot.delay
