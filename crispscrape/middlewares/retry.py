"""Réessais des erreurs passagères (5xx, réseau), avec recul exponentiel et gigue.

Le RetryMiddleware de Scrapy réessaie aussitôt : contre une API qui peine, c'est insister
au pire moment. Cette sous-classe garde toute sa logique (RETRY_TIMES, RETRY_HTTP_CODES,
RETRY_EXCEPTIONS, statistiques retry/...) et n'ajoute qu'une chose : chaque réessai porte
une attente (meta ``crisp_backoff``, CRISP_RETRY_BASE_DELAY doublé à chaque fois, avec
gigue), que CrispRateLimitMiddleware fait respecter juste avant l'envoi.

Les refus de débit (429/420) et le quota (423) ne lui parviennent pas : le middleware de
ralentissement, plus près du téléchargeur (priorité plus haute), voit les réponses avant lui.
"""

from __future__ import annotations

import random

from scrapy import Request
from scrapy.downloadermiddlewares.retry import RetryMiddleware

# Clé de meta : secondes à attendre avant d'envoyer la requête (voir ratelimit.py).
BACKOFF_META = "crisp_backoff"


def backoff(base: float, attempt: int, cap: float) -> float:
    """Recul exponentiel avec gigue (« equal jitter ») : entre la moitié et la totalité du palier."""
    step = min(cap, base * 2 ** max(0, attempt - 1))
    return step / 2 + random.uniform(0, step / 2)


class CrispRetryMiddleware(RetryMiddleware):
    """RetryMiddleware de Scrapy, dont chaque réessai attend un recul avant de partir."""

    def __init__(self, settings):
        super().__init__(settings)
        self.base_delay = settings.getfloat("CRISP_RETRY_BASE_DELAY")
        self.max_delay = settings.getfloat("CRISP_THROTTLE_MAX_DELAY")

    # Méthodes publiques de Scrapy : un réessai est la nouvelle requête qu'elles renvoient.
    def process_response(self, request, response, spider=None):
        return self._with_backoff(request, super().process_response(request, response))

    def process_exception(self, request, exception, spider=None):
        return self._with_backoff(request, super().process_exception(request, exception))

    def _with_backoff(self, request, result):
        if isinstance(result, Request) and result is not request:
            result.meta[BACKOFF_META] = backoff(
                self.base_delay, result.meta["retry_times"], self.max_delay)
        return result
