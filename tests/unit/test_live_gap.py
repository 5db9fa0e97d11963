"""Les coupures du direct (spiders/live_gap.py) : le début de ce qui reste à couvrir.

Connexion et signaux simulés ; le mélange est le vrai. Cas trouvé à la relecture : une
coupure pendant une longue réconciliation, couverte par la suivante qui ne commence qu'à la
fin de la première, doit remonter jusqu'au début de la coupure, pas à sa seule durée.
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import pytest

from crispscrape.spiders.live import LiveSpider
from crispscrape.spiders.live_gap import LiveGap
from crispscrape.spiders.live_refresh import Cycle


class Watched(LiveGap):
    def __init__(self, saved_at: float | None, connection: dict | None = None):
        self.sent: list = []
        self.losses = 0
        self.crawler = SimpleNamespace(
            signals=SimpleNamespace(send_catch_log=lambda signal, since: self.sent.append(since)),
            stats=SimpleNamespace(get_value=lambda key, default=None: self.losses))
        self.rtm = SimpleNamespace(connected=asyncio.Event())
        self.setup_gap(SimpleNamespace(saved_at=saved_at, connection=connection))

    def look(self, now: float, connected: bool) -> bool:
        (self.rtm.connected.set if connected else self.rtm.connected.clear)()
        return self._watch_connection(now)


def test_first_start_is_an_unknown_gap_noted_at_once():
    live = Watched(saved_at=None)
    live.look(1000.0, connected=False)
    assert live.sent == [0.0]  # inconnu : la fenêtre d'account, même après un arrêt brutal
    assert live._take_gap(1001.0) == (None, 0.0)


def test_a_gap_during_a_long_reconciliation_is_covered_from_its_start():
    live = Watched(saved_at=990.0, connection={"state": "stopped", "since": 990.0})
    live.look(1000.0, connected=True)
    gap, since = live._take_gap(1000.0)  # R1 : la coupure de l'arrêt (10 s)
    assert (gap, since) == (10.0, 990.0)
    live.look(2000.0, connected=False)  # coupure pendant R1, notée tout de suite
    live.look(2600.0, connected=True)
    assert live._reconcile_due and live.sent[-1] == 2000.0
    live._gap_covered(since, failed=False)  # R1 finit à 5000 : la coupure reste due
    assert live.sent[-2:] == [None, 2000.0]
    assert live._take_gap(5000.0) == (3000.0, 2000.0)  # R2 remonte à 2000, pas à 600 s


def test_a_failed_reconciliation_gives_its_gap_back():
    live = Watched(saved_at=900.0, connection={"state": "stopped", "since": 900.0})
    live.look(1000.0, connected=True)
    gap, since = live._take_gap(1000.0)
    live._gap_covered(since, failed=True)
    assert live._take_gap(1500.0) == (600.0, 900.0)
    # Sans coupure depuis : aucune fenêtre.
    live._gap_covered(900.0, failed=False)
    assert live._take_gap(1600.0) == (0.0, None)


def test_a_loss_shorter_than_a_look_is_seen():
    live = Watched(saved_at=1000.0, connection={"state": "connected", "since": 1000.0})
    live.look(1000.0, connected=True)
    live._take_gap(1000.0)
    live.losses = 1
    live.look(1200.0, connected=True)
    assert live._reconcile_due and live._take_gap(1200.0) == (1.0, 1199.0)


def test_a_round_that_cannot_read_its_files_is_dropped_and_gives_its_gap_back():
    def unreadable(policy, targets):
        raise OSError(5, "Input/output error")

    live = LiveSpider.__new__(LiveSpider)
    watched = Watched(saved_at=900.0, connection={"state": "stopped", "since": 900.0})
    live.crawler, live.rtm = watched.crawler, watched.rtm
    live.setup_gap(SimpleNamespace(saved_at=900.0, connection={"state": "stopped", "since": 900.0}))
    gap, since = live._take_gap(1000.0)
    live.cycle = Cycle(1000.0, None, 0.01, gap=gap, since=since)
    live.store, live._gone, live.default_lookback = SimpleNamespace(choose=unreadable), set(), 7.0
    with pytest.raises(OSError):
        live._select()
    # Plus de tour en cours (il bloquerait les suivants) ; la coupure reste à couvrir.
    assert live.cycle is None
    assert live._take_gap(1100.0) == (200.0, 900.0)
