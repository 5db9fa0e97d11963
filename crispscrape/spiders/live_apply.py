"""Le direct, étape 2 : chaque événement journalisé appliqué aux fichiers de l'export.

Un seul consommateur, dans l'ordre du journal : l'événement (signal ``live_journaled``,
envoyé par pipelines/live.py une fois l'événement écrit et synchronisé) devient un
``MessageBatch`` de fin « direct » qui passe TOUT DE SUITE par les pipelines ordinaires
(dédoublonnage par fingerprint, écriture triée et atomique, pièces jointes), par
``compat.process_item_now`` : un message est sur disque dans la seconde. Puis le signal
``live_applied`` fait noter l'événement appliqué et la conversation « à relire ».

L'application est idempotente (un message déjà là à l'identique est ignoré, un contenu
modifié remplacé, une suppression notée une fois de plus au registre) : après un arrêt
brutal, le journal rejoue ce qui suit le dernier événement appliqué et les fichiers sont
les mêmes.

Une conversation en cours de relecture REST n'est pas touchée par un événement tant que
sa relecture n'est pas finie (un seul écrivain par conversation à la fois) : ses événements
sont mis de côté, dans l'ordre, et appliqués dès la fin de la relecture ; ceux des autres
conversations passent sans attendre (au premier départ, la réconciliation relit des
milliers de conversations). L'événement noté appliqué reste alors juste sous le plus ancien
mis de côté : un arrêt brutal rejoue celui-ci et ce qui suit.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from crispscrape.compat import process_item_now, spawn
from crispscrape.items import LIVE, MessageBatch
from crispscrape.outcome import CAUSE_STAT
from crispscrape.paging.live import (
    CONVERSATION, CONVERSATION_GONE, EDIT, MESSAGE, MESSAGE_GONE, PROFILE_GONE, edited, meaning,
)
from crispscrape.oserrors import os_reason
from crispscrape.signals import (
    conversation_removed, live_applied, live_journaled, messages_removed, profile_removed,
    stop_export,
)
from crispscrape.storage.files import StorageError


# Événements qui écrivent dans le fichier d'une conversation (mis de côté pendant sa
# relecture), et l'entrée de la file qui reprend ceux d'une conversation relue.
WAITING_EVENTS = ("message:send", "message:received", "message:updated", "message:removed")
RESUME = "reprise"


@dataclass
class Left:
    """Ce qu'un événement laisse à relire : conversations (session_id -> plus ancien
    horodatage écrit d'après un événement) et profils (people_id -> e-mail ou None)."""

    conversations: dict = field(default_factory=dict)
    profiles: dict = field(default_factory=dict)


class LiveApply:
    """À placer avant ``MessagesSpider`` ; ``store`` est le magasin des messages (lecture)."""

    crawler: Any
    config: Any
    logger: Any
    store: Any
    journal: Any
    _refreshing: dict[str, asyncio.Event]
    # Supprimés chez Crisp (registre, puis les événements de suppression) : conversations et
    # messages (« session:fingerprint ») jamais réécrits par un événement en double ou en retard.
    _gone: set[str]
    # Vrai quand une suppression attend son effacement (fait quand le direct est calme).
    erase_due = False

    def setup_apply(self) -> None:
        self._queue: asyncio.Queue = asyncio.Queue()
        # Événements mis de côté (session_id -> [(seq, event, data)…]) pendant sa relecture.
        self._parked: dict[str, list[tuple]] = {}
        self._highest = 0
        self.crawler.signals.connect(self._journaled, signal=live_journaled)

    def _journaled(self, seq: int, event: str, data: dict) -> None:
        self._queue.put_nowait((seq, event, data))

    async def apply_loop(self) -> None:
        """Le consommateur : un événement après l'autre, jusqu'à l'arrêt de l'export."""
        while True:
            seq, event, data = await self._queue.get()
            if self.journal.closed:
                return  # fin du crawl : le reste sera rejoué au prochain départ
            if seq == RESUME:
                if not await self._resume(event):
                    return
                continue
            session_id = data.get("session_id") \
                if event in WAITING_EVENTS and isinstance(data, dict) else None
            if not isinstance(session_id, str):
                session_id = None  # inutilisable : compté par _apply
            if session_id in self._refreshing or session_id in self._parked:
                self._park(session_id, (seq, event, data))
            elif not await self._apply_one(seq, event, data):
                return

    def _park(self, session_id: str, entry: tuple) -> None:
        parked = self._parked.setdefault(session_id, [])
        parked.append(entry)
        self.crawler.stats.inc_value("live/parked")
        if len(parked) == 1:
            spawn(self._resume_after(session_id))

    async def _resume_after(self, session_id: str) -> None:
        refresh = self._refreshing.get(session_id)
        if refresh is not None:
            await refresh.wait()
        self._queue.put_nowait((RESUME, session_id, None))

    async def _resume(self, session_id: str) -> bool:
        """Relecture finie : ses événements mis de côté, dans l'ordre (False : arrêt)."""
        parked = self._parked.get(session_id, [])
        while parked:
            if session_id in self._refreshing:  # relue de nouveau entre-temps : on attend encore
                spawn(self._resume_after(session_id))
                return True
            # Retiré AVANT d'être appliqué : le suivant borne ce qui est noté appliqué.
            entry = parked.pop(0)
            if not parked:
                del self._parked[session_id]
            if not await self._apply_one(*entry):
                return False
        return True

    async def _apply_one(self, seq: int, event: str, data: dict) -> bool:
        """Applique l'événement ``seq`` ; False si l'export s'arrête (il sera rejoué)."""
        stats = self.crawler.stats
        try:
            left = await self._apply(event, data)
        except StorageError as exc:
            # Un identifiant qui ne peut pas servir de nom de fichier (rien n'est écrit
            # hors du répertoire de données) : l'événement est compté et passé.
            stats.inc_value("live/unusable")
            self.logger.warning("Événement %s n° %d ignoré : %s", event, seq, exc)
            left = Left()
        except OSError as exc:
            stop_export(self.crawler, "output_error", "Fichiers de l'export illisibles "
                        f"pendant le direct : {os_reason(exc)}. Arrêt du direct.")
        if stats.get_value(CAUSE_STAT) is not None:
            # Écriture impossible (disque plein…) : l'événement reste à appliquer, il
            # sera rejoué au prochain départ.
            return False
        stats.inc_value("live/applied")
        self._highest = max(self._highest, seq)
        # Noté appliqué jusqu'au plus ancien mis de côté (exclu) seulement.
        applied = min([self._highest] + [p[0][0] - 1 for p in self._parked.values() if p])
        self.crawler.signals.send_catch_log(live_applied, seq=applied,
                                            unsettled=left.conversations,
                                            profiles=left.profiles)
        return True

    async def _apply(self, event: str, data: dict) -> Left:
        """Applique un événement ; rend les conversations qu'il laisse à relire."""
        stats = self.crawler.stats
        change = meaning(event, data)
        website_id = data.get("website_id")
        if change is None or website_id is not None and website_id != self.config.website_id:
            stats.inc_value("live/unusable" if change is None else "live/other_website")
            return Left()
        session_id = change.session_id
        if change.kind == PROFILE_GONE:
            self.crawler.signals.send_catch_log(
                profile_removed, people_id=change.people_id,
                evidence=f"événement {event} (direct)")
            self.erase_due = True
            return Left()
        if session_id is None:
            # people:profile:created|updated : le profil relu (un appel) une fois calme.
            stats.inc_value("live/profile_changes")
            email = data.get("email")
            return Left(profiles={change.people_id: email if isinstance(email, str) else None})
        if session_id in self._gone:
            stats.inc_value("live/removed_ignored")
            return Left()
        if change.kind == CONVERSATION_GONE:
            self._gone.add(session_id)
            self.crawler.signals.send_catch_log(conversation_removed, session_id=session_id,
                                                evidence=f"événement {event} (direct)")
            self.erase_due = True
            return Left()
        if change.kind == CONVERSATION:
            return Left({session_id: None})
        known = self.store.known(session_id, None)  # ouvre la conversation (lecture)
        batch = MessageBatch(session_id, None, end=LIVE, complete=True)
        oldest = None
        if change.kind == MESSAGE and f"{session_id}:{change.fingerprint}" in self._gone:
            stats.inc_value("live/removed_ignored")
        elif change.kind == MESSAGE and change.message is not None:
            batch.messages = [change.message]
            oldest = change.message["timestamp"]
        elif change.kind == EDIT:
            line = known.stored.get(change.fingerprint)
            if line is not None:
                batch.messages = [edited(line, change.content)]
                oldest = line.get("timestamp") if isinstance(line.get("timestamp"), int) else None
        elif change.kind == MESSAGE_GONE:
            self._gone.add(f"{session_id}:{change.fingerprint}")
        if change.kind == MESSAGE_GONE:
            # Noté même s'il n'est pas (encore) dans le fichier : un message:send en retard,
            # après un redémarrage, le trouvera au registre (voir setup_refresh : _gone).
            self.crawler.signals.send_catch_log(
                messages_removed, session_id=session_id, keys=[change.fingerprint],
                evidence=f"événement {event} (direct)")
            if stats.get_value(CAUSE_STAT) is None:
                if change.fingerprint in known.stored:
                    batch.removed = [change.fingerprint]
                self.erase_due = True  # ses pièces jointes, ses événements
        # Toujours envoyé, même vide : il referme la conversation ouverte par ``known``.
        await process_item_now(self.crawler, batch)
        return Left({session_id: oldest})
