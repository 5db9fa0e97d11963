"""Le direct : les coupures du flux, et ce qu'elles laissent à couvrir (issue 22).

Le flux ne rejoue rien de ce qui a été envoyé pendant une coupure (connexion perdue, direct
arrêté ou tué) : la réconciliation suivante revérifie la fenêtre de la coupure
(paging/live.py, ``gap_lookback_days``). Ce mélange la tient :

- ``_gap`` : durée de la coupure à couvrir (0 : aucune ; None : inconnue, premier départ) ;
- le début de ce qui reste à couvrir est noté dans l'état du journal DÈS qu'il est connu
  (signal ``live_uncovered`` : premier coup d'œil, perte de la connexion), et effacé quand
  une réconciliation a tout couvert : un arrêt avant la reconnexion ou en pleine
  réconciliation ne raccourcit pas la fenêtre de la suivante (``startup_gap``).
"""

from __future__ import annotations

import time
from typing import Any

from crispscrape.paging.live import startup_gap
from crispscrape.signals import live_uncovered


class LiveGap:
    """À placer avant ``LiveRefresh`` (qui appelle ``_watch_connection`` à chaque coup d'œil)."""

    crawler: Any
    rtm: Any

    def setup_gap(self, journal) -> None:
        # Réconciliation due au départ, sur la coupure qui court.
        self._gap = startup_gap(journal.saved_at, journal.connection, time.time())
        self._gap_noted = False
        self._reconcile_due = True
        self._down_at: float | None = None
        # Coupures comptées par rtm.py : une coupure plus courte qu'un coup d'œil se voit aussi.
        self._losses_seen = 0
        self._was_connected = False

    def _uncovered(self, since: float | None) -> None:
        self.crawler.signals.send_catch_log(live_uncovered, since=since)

    def _watch_connection(self, now: float) -> bool:
        """Vrai si la connexion est authentifiée ; une coupure finie appelle une
        réconciliation, sur la durée de la coupure (le flux ne rejoue rien)."""
        if not self._gap_noted:
            # Premier coup d'œil (le journal est ouvert) : la coupure du départ notée.
            self._gap_noted = True
            if self._gap != 0:
                self._uncovered(0.0 if self._gap is None else now - self._gap)
        rtm = self.rtm
        connected = rtm is not None and rtm.connected.is_set()
        if not connected:
            if self._down_at is None and self._was_connected:
                self._down_at = now
                self._uncovered(now)
        elif self._down_at is not None:
            self._gap = max(self._gap or 0.0, now - self._down_at)
            self._down_at, self._reconcile_due = None, True
        losses = self.crawler.stats.get_value("live/connection_losses", 0) or 0
        if losses > self._losses_seen and connected and self._down_at is None:
            # Coupée et rétablie entre deux coups d'œil : réconciliée quand même.
            self._gap = max(self._gap or 0.0, 1.0)
            self._reconcile_due = True
            self._uncovered(now - 1.0)
        self._losses_seen = max(self._losses_seen, losses)
        self._was_connected = self._was_connected or connected
        return connected

    def _gap_covered(self, gap: float | None, failed: bool) -> None:
        """Fin d'une réconciliation sur la coupure ``gap`` (``failed`` : une relecture ratée)."""
        if failed:
            # Une relecture a échoué : sa coupure n'est pas couverte, elle reste due.
            self._gap = None if gap is None or self._gap is None else max(self._gap, gap)
            return
        self._uncovered(None)
        # Une coupure survenue pendant cette réconciliation reste à couvrir par la suivante.
        if self._down_at is not None:
            self._uncovered(self._down_at)
        elif self._gap:
            self._uncovered(time.time() - self._gap)
