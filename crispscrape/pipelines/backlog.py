"""Rattrapage des pièces jointes : ce que les lots de messages de l'exécution ne montrent pas.

Les lots ne portent que les messages nouveaux ou modifiés. Le rattrapage obtient le reste :

1. les pièces de l'index à redemander (échec sous la limite de tentatives, téléchargement
   interrompu, fichier ``ok`` disparu ou tronqué) ;
2. les messages déjà sur disque dont les pièces n'ont jamais été notées : fichiers de
   messages exportés avant cette fonction, ou changés depuis leur dernier balayage. L'état
   (``fichiers.jsonl.state.json``) retient la taille de chaque fichier de messages une fois
   TOUTES ses pièces notées dans l'index : un fichier inchangé n'est plus relu (un ``stat``
   par conversation), un arrêt brutal ne fait que relire les derniers.

Il part quand l'API a répondu (premier lot de messages) ou, sans appel à faire, quand
l'araignée est inactive ; elle ne se ferme qu'après lui (DontCloseSpider). Quelques
conversations à la fois, lues une par une (la mémoire ne grandit pas avec le compte). Un
arrêt (quota, budget, Ctrl-C) l'interrompt : la prochaine exécution reprend.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from crispscrape import compat
from crispscrape.file_refs import FileRef, file_refs
from crispscrape.oserrors import os_reason
from crispscrape.pipelines.file_failures import to_retry
from crispscrape.storage.files import safe_name

if TYPE_CHECKING:
    from crispscrape.pipelines.attachments import AttachmentsPipeline
    from crispscrape.storage.file_index import AttachmentIndex

logger = logging.getLogger(__name__)

# Conversations (ou paquets de reprises) traitées en même temps.
WORKERS = 4
RETRY_CHUNK = 20
SUFFIX = ".jsonl"


def read_refs(path: str, session_id: str) -> tuple[list[FileRef], int]:
    """Pièces jointes d'un fichier de messages, et sa taille à la lecture."""
    messages = []
    with open(path, "rb") as handle:
        size = os.fstat(handle.fileno()).st_size
        for raw in handle:
            # Une pièce jointe a toujours une clé "url" : les autres lignes ne sont pas décodées.
            if b'"url"' not in raw:
                continue
            try:
                messages.append(json.loads(raw))
            except ValueError:
                continue  # ligne illisible : l'export des messages s'en occupe
    return file_refs(session_id, messages), size


class Backlog:
    def __init__(self, pipeline: AttachmentsPipeline, index: AttachmentIndex, messages_dir: Path):
        self.pipeline = pipeline
        self.index = index
        self.messages_dir = str(messages_dir)
        self.task: asyncio.Task | None = None
        self.done = False

    def start(self) -> None:
        if self.task is None:
            self.task = compat.spawn(self._run())

    def cancel(self) -> None:
        if self.task is not None and not self.task.done():
            self.task.cancel()

    async def _run(self) -> None:
        stats = self.pipeline.stats
        queue: asyncio.Queue = asyncio.Queue(maxsize=WORKERS * 2)
        loop = asyncio.get_running_loop()
        workers = [loop.create_task(self._worker(queue)) for _ in range(WORKERS)]
        try:
            for job in self._jobs():
                await queue.put(job)
                stats.inc_value("files/backlog_jobs")
            for _ in workers:
                await queue.put(None)
            await asyncio.gather(*workers)
        except OSError as exc:
            logger.error("Rattrapage des pièces jointes interrompu : %s. Il reprendra à la "
                         "prochaine exécution.", os_reason(exc))
        finally:
            for worker in workers:
                worker.cancel()
            self.done = True
            self.pipeline.wake_if_done()

    def _jobs(self) -> Iterator[tuple[list[FileRef], str | None, int]]:
        """(pièces, conversation balayée ou None, taille lue), une conversation à la fois."""
        retry = to_retry(self.index)
        for start in range(0, len(retry), RETRY_CHUNK):
            yield retry[start:start + RETRY_CHUNK], None, 0
        if not os.path.isdir(self.messages_dir):
            return
        with os.scandir(self.messages_dir) as entries:
            names = sorted(entry.name for entry in entries if entry.name.endswith(SUFFIX))
        for name in names:
            session_id = safe_name(name[:-len(SUFFIX)])
            if session_id is None:
                continue
            path = os.path.join(self.messages_dir, name)
            try:
                if os.stat(path).st_size == self.index.scanned.get(session_id):
                    continue
                refs, size = read_refs(path, session_id)
            except FileNotFoundError:
                continue
            yield refs, session_id, size

    async def _worker(self, queue: asyncio.Queue) -> None:
        while (job := await queue.get()) is not None:
            refs, session_id, size = job
            if refs:
                await self.pipeline.fetch(refs)
            # Balayée seulement si chaque pièce a sa ligne (une pièce encore en cours pour un
            # lot n'en a pas : la conversation sera relue la prochaine fois).
            if session_id is not None and all(ref.key in self.index.entries for ref in refs):
                self.index.mark_scanned(session_id, size)
