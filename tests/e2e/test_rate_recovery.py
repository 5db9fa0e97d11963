"""Refus sporadiques (8 % de 420 tirés au hasard) : le débit du crawl ne s'effondre pas.

Bogue trouvé par les essais de pannes : chaque 420 multipliait le délai du slot par 1,5 et
chaque bonne réponse ne le relâchait que de 0,5 % ; avec 8 % de refus sans rapport avec
notre rythme, le débit tombait de ~100 à ~4 requêtes/s. Le limiteur vérifie désormais
chaque ralentissement et rétablit le débit quand les refus continuent malgré lui.

Mesure côte à côte dans le même test (la machine peut être chargée) : le même export sans
refus, puis avec ; la marge est large (30 % du débit sans refus, contre 2 à 5 % avec
l'ancienne règle et 60 à 90 % avec la nouvelle).
"""

from __future__ import annotations

import pytest

from tests.support.crawling import run_crawl
from tests.support.messages_support import assert_matches_truth, write_conversations

# Un débit mesuré : jamais en même temps que d'autres tests (make test le lance à part).
pytestmark = pytest.mark.timing

CONVERSATIONS = 400
THROTTLED = {"420", "429"}


def _steady_rate(timeline: list[list]) -> float:
    """Appels acceptés par seconde, de la 2e seconde jusqu'au 90e centile des appels.

    La dernière part est laissée de côté : une requête refusée trois fois de suite y attend
    seule son recul exponentiel (quelques secondes), ce qui ne dit rien du débit.
    """
    first = timeline[0][0]
    accepted = [t for t, status in timeline if status not in THROTTLED and t >= first + 1.0]
    cut = accepted[int(0.9 * len(accepted))]
    counted = [t for t in accepted if t <= cut]
    return len(counted) / max(cut - (first + 1.0), 1e-3)


def _export(sandbox_factory, data_dir, **faults):
    sandbox = sandbox_factory(seed=7, conversations=CONVERSATIONS, **faults)
    conversations = write_conversations(sandbox, data_dir)
    result = run_crawl("messages", data_dir, sandbox.env(), args={"nb": CONVERSATIONS})
    assert result.returncode == 0, result.log[-3000:]
    assert_matches_truth(sandbox, data_dir, [c["session_id"] for c in conversations])
    return result, sandbox.admin("/_admin/calls")["calls"]


def test_random_420s_do_not_collapse_the_rate(sandbox_factory, tmp_path):
    free_dir, throttled_dir = tmp_path / "sans", tmp_path / "avec"
    free_dir.mkdir()
    throttled_dir.mkdir()
    _, free_calls = _export(sandbox_factory, free_dir)
    result, calls = _export(sandbox_factory, throttled_dir, throttle_ratio=0.08,
                            throttle_status=420)
    refused = sum(1 for _, status in calls if status in THROTTLED)
    assert refused > 0.04 * len(calls), "le bac à sable n'a pas refusé assez d'appels"
    assert result.stats["crisp_throttle/status/420"] == refused
    free_rate, rate = _steady_rate(free_calls), _steady_rate(calls)
    assert rate >= 0.3 * free_rate, (
        f"débit effondré par des refus sporadiques : {rate:.1f} req/s contre "
        f"{free_rate:.1f} sans refus")
    # Le limiteur a reconnu des refus sans rapport avec le rythme du crawl.
    assert result.stats.get("crisp_throttle/slowdowns_undone", 0) >= 1
