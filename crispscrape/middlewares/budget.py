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

from crispscrape.api import QuotaExceeded
from crispscrape.file_refs import FILE_META
from crispscrape.compat import spawn
from crispscrape.context import export_context
from crispscrape.middlewares.auth import api_prefix

logger = logging.getLogger(__name__)

BUDGET_REASON = "budget"


def budget_of(crawler) -> int | None:
    """Budget de l'exécution : -a budget (contexte de l'export), sinon réglage ; None =
    illimité."""
    context = export_context(crawler)
    value = context.budget if context is not None else None
    settings = crawler.settings
    if value is None:
        value = settings.getint("CRISP_CALL_BUDGET", 0) or None
    return value


class CallBudgetMiddleware:
    def __init__(self, crawler, prefix: str):
        self.crawler = crawler
        self.stats = crawler.stats
        self._api_prefix = prefix
        self.spent = 0
        self.exhausted = False

    @classmethod
    def from_crawler(cls, crawler):
        # Sans configuration, NotConfigured : l'araignée refuse elle-même de démarrer.
        return cls(crawler, api_prefix(crawler))

    def process_request(self, request, spider=None):
        # Une pièce jointe n'est pas un appel à l'API : hors budget, même si son URL y pointe.
        if request.meta.get(FILE_META) or not request.url.startswith(self._api_prefix):
            return None
        budget = budget_of(self.crawler)
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
        # Dans une étape d'``account``, le budget reçu est ce qu'il restait à l'exécution : le
        # nombre n'est donc pas celui de -a budget, il est dit comme un reste.
        context = export_context(self.crawler)
        what = ("le reste du budget de l'exécution" if context is not None and context.account_step
                else "le budget")
        logger.warning("Budget d'appels atteint (%d appels à l'API, %s). Arrêt propre : l'état "
                       "est sauvegardé, la prochaine exécution reprendra exactement ici.", budget,
                       what)
        spawn(self.crawler.engine.close_spider_async(reason=BUDGET_REASON))
