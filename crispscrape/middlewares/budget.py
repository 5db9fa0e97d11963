"""Budget d'appels d'une exécution : ``-a budget=N`` ou le réglage ``CRISP_CALL_BUDGET``.

Le quota de Crisp se compte en requêtes reçues, réessais et requêtes ralenties compris :
ce middleware compte donc chaque requête vers l'API au moment où elle part (juste avant
l'authentification, après les attentes de recul), et refuse d'en envoyer une de plus une
fois le budget dépensé. La requête refusée suit le même chemin qu'un arrêt pour quota :
la ressource reste à faire (rien n'est perdu), le crawl se ferme avec la raison
``budget`` (code de sortie 2) et la prochaine exécution reprend exactement là.
"""

from __future__ import annotations

import logging

from scrapy.exceptions import NotConfigured

from crispscrape.api import QuotaExceeded
from crispscrape.compat import spawn
from crispscrape.config import ConfigError, CrispConfig

logger = logging.getLogger(__name__)

BUDGET_REASON = "budget"


def budget_of(spider, settings) -> int | None:
    """Budget de l'exécution : argument de l'araignée, sinon réglage ; None = illimité."""
    value = getattr(spider, "budget", None)
    if value is None:
        value = settings.getint("CRISP_CALL_BUDGET", 0) or None
    return value


class CallBudgetMiddleware:
    def __init__(self, crawler, api_url: str):
        self.crawler = crawler
        self.stats = crawler.stats
        self._api_prefix = api_url + "/"
        self.spent = 0
        self.exhausted = False

    @classmethod
    def from_crawler(cls, crawler):
        try:
            config = CrispConfig.from_settings(
                crawler.settings, website=getattr(crawler.spider, "website", None))
        except ConfigError:
            # L'araignée refuse elle-même de démarrer, sans aucun appel.
            raise NotConfigured("configuration Crisp absente") from None
        return cls(crawler, config.api_url)

    def process_request(self, request, spider=None):
        if not request.url.startswith(self._api_prefix):
            return None
        spider = self.crawler.spider
        budget = budget_of(spider, self.crawler.settings)
        if budget is not None and self.spent >= budget:
            self._exhaust(budget)
            raise QuotaExceeded("budget d'appels dépensé")
        self.spent += 1
        self.stats.set_value("crisp_budget/spent", self.spent)
        if budget is not None:
            self.stats.set_value("crisp_budget/left", budget - self.spent)
        return None

    def _exhaust(self, budget: int) -> None:
        if self.exhausted:
            return
        self.exhausted = True
        self.stats.set_value("crisp_budget/exhausted", 1)
        logger.warning("Budget d'appels atteint (%d appels à l'API Crisp). Arrêt propre : l'état "
                       "est sauvegardé, la prochaine exécution reprendra exactement ici.", budget)
        spawn(self.crawler.engine.close_spider_async(reason=BUDGET_REASON))
