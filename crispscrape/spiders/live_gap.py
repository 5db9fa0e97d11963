"""Le direct : les coupures du flux, et ce qu'elles laissent à couvrir (issue 22).

Le flux ne rejoue rien de ce qui a été envoyé pendant une coupure (connexion perdue, direct
arrêté ou tué) : la réconciliation suivante revérifie la fenêtre de la coupure
(paging/live.py, ``gap_lookback_days``). Ce mélange tient le DÉBUT de ce qui reste à couvrir
(``_since`` : None, rien ; 0, inconnu, premier départ ; sinon une heure), pas une durée : une
réconciliation qui attend la fin d'une autre (la première peut durer des heures) couvre
encore toute la coupure.

Ce début est noté dans l'état du journal dès qu'il est connu (signal ``live_uncovered`` :
premier coup d'œil, perte de la connexion) et effacé quand une réconciliation a tout
couvert : un arrêt avant la reconnexion ou en pleine réconciliation ne raccourcit pas la
fenêtre de la suivante (``startup_gap``).
"""

from __future__ import annotations

import time
from typing import Any

from crispscrape.paging.live import startup_gap
from crispscrape.signals import live_uncovered


def _earliest(since: float | None, moment: float) -> float:
    return moment if since is None else min(since, moment)


class LiveGap:
    """À placer avant ``LiveRefresh`` (qui appelle ``_watch_connection`` à chaque coup d'œil)."""

    crawler: Any
    rtm: Any

    def setup_gap(self, journal) -> None:
        now = time.time()
        gap = startup_gap(journal.saved_at, journal.connection, now)
        self._since: float | None = None if gap == 0 else 0.0 if gap is None else now - gap
        self._since_noted = False
        self._reconcile_due = True
        self._down_at: float | None = None
        # Coupures comptées par rtm.py : une coupure plus courte qu'un coup d'œil se voit aussi.
        self._losses_seen = 0
        self._was_connected = False

    def _uncover(self, moment: float) -> None:
        self._since = _earliest(self._since, moment)
        self.crawler.signals.send_catch_log(live_uncovered, since=self._since)

    def _watch_connection(self, now: float) -> bool:
        """Vrai si la connexion est authentifiée ; une coupure finie appelle une
        réconciliation (le flux ne rejoue rien)."""
        if not self._since_noted:
            # Premier coup d'œil (le journal est ouvert) : la coupure du départ notée.
            self._since_noted = True
            if self._since is not None:
                self._uncover(self._since)
        rtm = self.rtm
        connected = rtm is not None and rtm.connected.is_set()
        if not connected:
            if self._down_at is None and self._was_connected:
                self._down_at = now
                self._uncover(now)
        elif self._down_at is not None:
            self._down_at, self._reconcile_due = None, True
        losses = self.crawler.stats.get_value("live/connection_losses", 0) or 0
        if losses > self._losses_seen and connected and self._down_at is None:
            # Coupée et rétablie entre deux coups d'œil : réconciliée quand même.
            self._reconcile_due = True
            self._uncover(now - 1.0)
        self._losses_seen = max(self._losses_seen, losses)
        self._was_connected = self._was_connected or connected
        return connected

    def _take_gap(self, now: float) -> tuple[float | None, float | None]:
        """Une réconciliation commence : (durée de la coupure qu'elle couvre, ou None si
        inconnue ; début noté, rendu à ``_gap_covered``)."""
        since, self._since, self._reconcile_due = self._since, None, False
        gap = 0.0 if since is None else None if since == 0 else max(0.0, now - since)
        return gap, since

    def _gap_covered(self, since: float | None, failed: bool) -> None:
        """Fin d'une réconciliation qui couvrait depuis ``since`` (``failed`` : une relecture
        ratée, la coupure reste due, avec sa fenêtre)."""
        if failed:
            if since is not None:
                self._since = 0.0 if since == 0 else _earliest(self._since, since)
            return
        self.crawler.signals.send_catch_log(live_uncovered, since=None)
        if self._since is not None:
            # Une coupure survenue pendant cette réconciliation reste à couvrir.
            self._uncover(self._since)
