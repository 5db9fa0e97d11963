"""Petit simulateur pour tester le limiteur de débit seul, sans Scrapy ni réseau.

Un client envoie aussi vite que le permettent son débit naturel (processeur, concurrence)
et le limiteur (sans gigue, comme le projet : DOWNLOAD_DELAY_JITTER = 0) ; le serveur refuse
selon un seau à jetons (limite réelle R, capacité d'une seconde comme le bac à sable) ou au
hasard.
Déterministe : graine fixe.
"""

from __future__ import annotations

import heapq
import random
from dataclasses import dataclass

from crispscrape.extensions.ratelimiter import RateLimiter


@dataclass
class Outcome:
    accepted_rate: float  # acceptés par seconde, après la première seconde
    refused_share: float  # refusés / envoyés, sur tout l'essai
    sent: int


def simulate(limiter: RateLimiter, *, seconds: float = 25, natural: float = 100.0,
             limit: float | None = None, random_share: float = 0.0, latency: float = 0.005,
             seed: int = 1, lull: tuple[float, float, float] | None = None) -> Outcome:
    """``lull`` = (début, fin, débit) : un creux de la demande (fin de pagination, etc.)."""
    rng = random.Random(seed)
    tokens, refilled = (limit or 0.0), 0.0
    responses: list[tuple[float, bool]] = []
    next_send = 0.0
    sent = refused = accepted_late = 0
    while next_send <= seconds:
        if responses and responses[0][0] <= next_send:
            now, was_refused = heapq.heappop(responses)
            limiter.record(now, was_refused, latency)
            continue
        now = next_send
        sent += 1
        if random_share and rng.random() < random_share:
            is_refused = True
        elif limit:
            tokens = min(limit, tokens + (now - refilled) * limit)
            refilled = now
            is_refused = tokens < 1
            tokens -= 0 if is_refused else 1
        else:
            is_refused = False
        refused += is_refused
        accepted_late += (not is_refused) and now >= 1.0
        heapq.heappush(responses, (now + latency * rng.uniform(0.5, 1.5), is_refused))
        demand = lull[2] if lull and lull[0] <= now < lull[1] else natural
        next_send = now + max(1 / demand, limiter.min_delay())
    return Outcome(accepted_late / (seconds - 1), refused / sent, sent)
