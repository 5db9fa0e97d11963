"""Le limiteur de débit seul (crispscrape/extensions/ratelimiter.py), horloge simulée.

Les comportements de bout en bout (vrai Scrapy, vrai bac à sable) sont dans
tests/e2e/test_rate_recovery.py et tests/test_crisp_layer.py ; ici, la règle elle-même,
contre un petit simulateur (tests/unit/ratesim.py) et sur des suites de réponses écrites.
"""

from __future__ import annotations

import pytest

from crispscrape.addon import DEFAULTS
from crispscrape.extensions.ratelimiter import RateLimiter
from tests.unit.ratesim import simulate


def limiter(**overrides) -> RateLimiter:
    """Un limiteur avec les réglages par défaut (ceux de l'add-on)."""
    options = {
        "cut_factor": DEFAULTS["CRISP_THROTTLE_DELAY_FACTOR"],
        "recovery_time": DEFAULTS["CRISP_THROTTLE_RECOVERY_TIME"],
        "probe_rate": DEFAULTS["CRISP_THROTTLE_PROBE_RATE"],
        "min_rate": 1 / DEFAULTS["AUTOTHROTTLE_MAX_DELAY"],
    }
    return RateLimiter(**{**options, **overrides})


class OldRule:
    """La règle d'avant (délai × 1,5 par refus, au plus une fois par délai, plancher 0,02 s ;
    relâché de 0,5 % par réponse correcte) : un témoin que le test doit voir échouer."""

    def __init__(self):
        self.delay, self.last = 0.0, -1.0

    def min_delay(self):
        return self.delay

    def record(self, now, refused, latency=0.0):
        if refused and now - self.last >= self.delay:
            self.last, self.delay = now, max(self.delay * 1.5, 0.02)
        elif not refused:
            self.delay *= 0.995


# --- Contre le simulateur ------------------------------------------------------------------

@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_refusals_keep_most_of_the_rate(seed):
    free = simulate(limiter(), seed=seed)
    throttled = simulate(limiter(), random_share=0.08, seed=seed)
    assert throttled.accepted_rate >= 0.6 * free.accepted_rate
    # Témoin : l'ancienne règle s'effondre dans la même situation.
    old = simulate(OldRule(), random_share=0.08, seed=seed)
    assert old.accepted_rate < 0.2 * free.accepted_rate


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_random_refusals_after_a_lull_in_demand_do_not_leave_a_low_limit(seed):
    # Un creux de la demande (fin de pagination) : le débit mesuré alors dit la demande, pas
    # ce que l'API permet. Un plafond trouvé là par erreur ne bride pas la suite longtemps.
    free = simulate(limiter(), seed=seed, lull=(5, 10, 2))
    throttled = simulate(limiter(), random_share=0.08, seed=seed, lull=(5, 10, 2))
    assert throttled.accepted_rate >= 0.35 * free.accepted_rate
    old = simulate(OldRule(), random_share=0.08, seed=seed, lull=(5, 10, 2))
    assert old.accepted_rate < 0.2 * free.accepted_rate


@pytest.mark.parametrize("limit", [10, 20, 50])
@pytest.mark.parametrize("seed", [1, 2])
def test_real_limit_is_found_and_held_with_few_refusals(limit, seed):
    outcome = simulate(limiter(), limit=limit, seed=seed)
    assert outcome.accepted_rate >= 0.9 * limit
    # Démarrage compris : le simulateur part d'emblée à 100 req/s contre un seau plein.
    assert outcome.refused_share <= 0.07


# --- Suites de réponses écrites ------------------------------------------------------------

def _steady(rate_limiter: RateLimiter, start: float, seconds: float, rate: float,
            refused_every: int = 0) -> float:
    """Des réponses régulières ; une sur ``refused_every`` refusée. Renvoie l'instant final."""
    count = int(seconds * rate)
    for i in range(1, count + 1):
        rate_limiter.record(start + i / rate, bool(refused_every) and i % refused_every == 0)
    return start + count / rate


def test_no_limit_until_a_refusal_then_the_first_cut_halves_the_measured_rate():
    rate_limiter = limiter()
    now = _steady(rate_limiter, 0.0, 1.0, 100)
    assert rate_limiter.rate is None and rate_limiter.min_delay() == 0
    assert rate_limiter.record(now + 0.01, True) == "cut"
    # ~100 req/s mesurés ; sans limite connue, le premier pas divise par 2.
    assert 45 <= rate_limiter.rate <= 55
    assert rate_limiter.min_delay() == pytest.approx(1 / rate_limiter.rate)


def test_refusals_that_go_on_at_the_same_share_are_not_ours_and_the_rate_comes_back():
    rate_limiter = limiter()
    now = _steady(rate_limiter, 0.0, 1.0, 100)
    assert rate_limiter.record(now + 0.01, True) == "cut"
    events = []
    for i in range(1, 200):  # au rythme réduit, 1 refus sur 12 : ralentir n'y change rien
        events.append(rate_limiter.record(now + 0.01 + i / rate_limiter.rate, i % 12 == 0))
        if events[-1]:
            break
    assert events[-1] == "undone"
    assert rate_limiter.rate is None  # le débit d'avant : aucune limite
    # Un refus isolé pendant la période de calme qui suit est ignoré.
    later = now + 3.0
    assert rate_limiter.record(later, True) is None and rate_limiter.rate is None


def test_a_cut_that_stops_the_refusals_gives_the_ceiling_then_recovery_then_slow_probing():
    rate_limiter = limiter(recovery_time=1.0, probe_rate=0.05)
    now = _steady(rate_limiter, 0.0, 2.0, 25)
    events = [rate_limiter.record(now + 0.01, True)]
    assert events == ["cut"] and rate_limiter.rate < 25
    while "confirmed" not in events:  # plus aucun refus au rythme réduit
        now += 1 / rate_limiter.rate
        events.append(rate_limiter.record(now, False))
        assert now < 20, "le ralentissement n'a jamais été confirmé"
    assert "deeper" not in events and "undone" not in events
    ceiling = rate_limiter.ceiling
    assert ceiling == pytest.approx(25, rel=0.05)  # le débit d'avant le refus
    now = _steady(rate_limiter, now, 1.05, ceiling)  # retour au plafond en une seconde
    assert rate_limiter.rate == pytest.approx(ceiling)
    _steady(rate_limiter, now, 1.0, ceiling)  # puis le dépasse doucement
    assert ceiling < rate_limiter.rate <= ceiling * 1.1


def test_massive_refusals_cut_deeper_without_waiting_for_the_trial():
    rate_limiter = limiter()
    now = _steady(rate_limiter, 0.0, 1.0, 100)
    rate_limiter.record(now + 0.01, True)
    first = rate_limiter.rate
    events = [rate_limiter.record(now + 0.2 + i / 100, True) for i in range(5)]
    assert "deeper" in events and rate_limiter.rate < first


def test_a_lone_refusal_with_too_few_responses_sets_no_limit():
    # Fin de crawl : quelques réponses par seconde, une refusée. Rien à en tirer sur le débit.
    rate_limiter = limiter()
    now = _steady(rate_limiter, 0.0, 2.0, 3)
    assert rate_limiter.record(now + 0.1, True) is None
    assert rate_limiter.rate is None
