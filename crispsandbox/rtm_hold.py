"""Retenue d'événements temps réel (/_admin/rtm/hold) : un flux qui arrive en retard et
dans le désordre.

``POST /_admin/rtm/hold {"count": N, "seconds": S}`` : les N prochains événements publiés
(rtm.py, ``RtmHub.publish``) qui ont un destinataire (client abonné ou cible de web hooks)
sont retenus, puis chacun part S secondes après sa publication, donc APRÈS ceux publiés
entre-temps. À son départ, un événement retenu suit le chemin ordinaire comme s'il venait
d'être publié : aux clients authentifiés à cet instant (pertes et doublons prévus compris),
puis en web hook à la cible enregistrée à cet instant. Deux événements dus au même instant
partent dans leur ordre de publication, l'un après l'autre. Ce qui est encore retenu à
l'arrêt du bac à sable est perdu.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
from dataclasses import dataclass, field
from typing import Awaitable, Callable

logger = logging.getLogger(__name__)

# Plus longue retenue acceptée (secondes).
MAX_SECONDS = 600.0

# Départ d'un événement retenu : (site, nom, contenu, abonnés seulement) -> émissions.
Release = Callable[[str, str, dict, bool], Awaitable[int]]


def parse_seconds(payload: dict) -> float:
    """« seconds » : nombre de secondes, strictement positif, MAX_SECONDS au plus."""
    seconds = payload.get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) \
            or not 0 < seconds <= MAX_SECONDS:
        raise ValueError(f"seconds doit être un nombre de secondes (plus de 0, {MAX_SECONDS:g} au plus)")
    return float(seconds)


@dataclass(order=True)
class _Held:
    """Un événement retenu ; trié par échéance, puis par ordre de publication."""

    due: float
    order: int
    event: tuple[str, str, dict, bool] = field(compare=False)


class HoldQueue:
    """Événements retenus et leur départ (une seule tâche, dans l'ordre des échéances)."""

    def __init__(self, release: Release) -> None:
        self._release = release
        self.hold_left = 0  # prochains événements à retenir
        self.seconds = 0.0  # durée de leur retenue
        self.requested = False  # une retenue a-t-elle déjà été demandée ?
        self.released = 0  # événements retenus, puis partis
        self._heap: list[_Held] = []
        self._order = itertools.count()
        self._releasing = 0  # événement en train de partir (encore compté comme retenu)
        self._wake = asyncio.Event()
        self._task: asyncio.Task | None = None

    @property
    def held(self) -> int:
        """Événements retenus en ce moment (pas encore partis)."""
        return len(self._heap) + self._releasing

    def configure(self, count: int, seconds: float) -> None:
        """Retient les ``count`` prochains événements ``seconds`` secondes (0 : annule ce qui
        restait à retenir ; ce qui est déjà retenu part quand même à son heure)."""
        self.hold_left, self.seconds = count, seconds
        self.requested = True

    def take(self, website_id: str, event: str, data: dict, subscribed_only: bool) -> bool:
        """Retient cet événement si une retenue est prévue ; False sinon (il part tout de suite)."""
        if self.hold_left <= 0:
            return False
        self.hold_left -= 1
        due = asyncio.get_running_loop().time() + self.seconds
        heapq.heappush(self._heap, _Held(due, next(self._order), (website_id, event, data, subscribed_only)))
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run())
        else:
            self._wake.set()  # une échéance plus proche que celle qu'attend la tâche
        return True

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while self._heap:
            delay = self._heap[0].due - loop.time()
            if delay > 0:
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except asyncio.TimeoutError:
                    pass
                continue
            held = heapq.heappop(self._heap)
            self._releasing = 1
            try:
                await self._release(*held.event)
            except Exception:  # un départ raté ne bloque pas les suivants
                logger.exception("Événement retenu %s : départ impossible", held.event[1])
            finally:
                self._releasing = 0
            self.released += 1
        self._task = None

    async def close(self) -> None:
        """Arrêt du bac à sable : ce qui est encore retenu est perdu."""
        task, self._task = self._task, None
        self._heap.clear()
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass

    def snapshot(self) -> dict:
        return {"hold_left": self.hold_left, "held": self.held, "released": self.released}
