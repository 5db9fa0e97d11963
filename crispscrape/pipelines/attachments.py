"""Pièces jointes des messages, téléchargées une fois par le FilesPipeline de Scrapy.

Ce pipeline ÉTEND ``scrapy.pipelines.files.FilesPipeline`` (déduplication des URL d'un
crawl, ``file_path``, magasin, statistiques ``file_count``) ; il n'en change que ceci :
- les URL viennent des messages (``file_refs.py``) et l'index (``storage/file_index.py``)
  dit ce qui est déjà là : une pièce ``ok`` présente ne coûte aucune requête (pas même
  HEAD), un échec est retenté au plus ``CRISP_FILES_MAX_ATTEMPTS`` fois en tout, un schéma
  autre que http(s) n'est jamais demandé ;
- chaque requête porte la meta ``crisp_file`` : ni identifiants Crisp, ni budget, ni
  ralentissement de l'API (voir les middlewares), et son propre slot, hors AutoThrottle ;
- le nom sur disque est sûr (``fichiers/{session}/{fingerprint}-{nom}``), l'écriture atomique,
  la somme de contrôle en SHA-256 ; un 404 ou un délai dépassé est une ligne de l'index.
Deux sources : les lots de messages de cette exécution, et le rattrapage (``backlog.py``) :
échecs à retenter, fichiers ``ok`` disparus, messages déjà sur disque sans leurs pièces.

Un lot ne fait PAS attendre la pagination de sa conversation (contrairement à l'usage du
FilesPipeline, où l'item attend ses fichiers) : ses pièces partent en tâche de fond, et
l'araignée ne se ferme qu'une fois toutes notées (DontCloseSpider). Au plus ``FILES_IN_FLIGHT``
pièces à la fois, chacune une fois par exécution : les appels à l'API gardent leur place.
"""

from __future__ import annotations

import asyncio
import errno
import hashlib
import logging
import os
from dataclasses import dataclass, field
from io import BytesIO
from typing import Any, ClassVar

from scrapy import Request, signals
from scrapy.exceptions import DontCloseSpider, NotConfigured
from scrapy.http.request import NO_CALLBACK
from scrapy.pipelines.files import FilesPipeline, FilesStoreProtocol

from crispscrape import compat
from crispscrape.file_refs import FILE_META, FILES_SLOT, REF_META, FileRef, file_refs, scheme_allowed
from crispscrape.console import Repeats
from crispscrape.oserrors import os_reason
from crispscrape.config import data_dir_of
from crispscrape.context import website_of
from crispscrape.items import MessageBatch
from crispscrape.pipelines.attachment_store import AttachmentStore
from crispscrape.pipelines.backlog import Backlog
from crispscrape.pipelines.file_failures import AttachmentFailure, attempts_before, failure_reason, settled
from crispscrape.pipelines.messages import message_store
from crispscrape.signals import refuse_start, stop_export, traces_erased
from crispscrape.storage.file_index import INTERRUPTED, OK, AttachmentIndex, Entry
from crispscrape.storage.files import StorageError
from crispscrape.storage.layout import FILES_DIR

logger = logging.getLogger(__name__)

# Réessais dans une exécution (5xx, coupure) ; les suivants aux exécutions d'après : un
# fichier trop lent ne bloque pas l'export cinq fois de suite.
RETRY_TIMES = 1
# Pièces en cours à la fois (concurrence de leur slot : DOWNLOAD_SLOTS, add-on) ; l'API garde le sien.
FILES_IN_FLIGHT = 8
DOWNLOADED = ("downloaded", "cached", "uptodate")
# Erreurs du disque entier (pas d'une pièce) : l'export s'arrête.
DISK_ERRNOS = (errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO)


@dataclass(eq=False)
class FileRefs:
    """Item interne : des pièces jointes à obtenir (``todo`` : celles qui partent)."""

    refs: list[FileRef]
    todo: list[FileRef] = field(default_factory=list)


class AttachmentsPipeline(FilesPipeline):
    STORE_SCHEMES: ClassVar[dict[str, type[FilesStoreProtocol]]] = {
        "": AttachmentStore, "file": AttachmentStore,
    }

    def __init__(self, store_uri: str, *, crawler):
        super().__init__(store_uri, crawler=crawler)
        settings = crawler.settings
        # Le répertoire du site exporté : {CRISP_DATA_DIR}/{site} avec -a website=ID.
        self.data_dir = data_dir_of(settings, website=website_of(crawler))
        self.max_size = settings.getint("CRISP_FILES_MAX_SIZE")
        self.timeout = settings.getfloat("CRISP_FILES_TIMEOUT")
        self.max_attempts = max(1, settings.getint("CRISP_FILES_MAX_ATTEMPTS"))
        self.stats = crawler.stats
        self.index: AttachmentIndex | None = None  # ouvert si le pré-vol des messages a passé
        self.backlog: Backlog | None = None
        self.repeats = Repeats(settings)  # à l'écran : les 3 premiers échecs de chaque raison
        self.disk_failed = False
        # Pièces des lots en cours de téléchargement (tâches de fond), et clés déjà tentées.
        self.pending: set[asyncio.Task] = set()
        self.attempted: set[tuple[str, int]] = set()
        self.in_flight = asyncio.Semaphore(FILES_IN_FLIGHT)

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("CRISP_FILES_ENABLED"):
            raise NotConfigured("pièces jointes désactivées (CRISP_FILES_ENABLED)")
        # Chemin absolu : le magasin est choisi par le schéma de l'URI (FilesPipeline).
        root = os.path.abspath(os.path.join(data_dir_of(crawler.settings,
                                                        website=website_of(crawler)), FILES_DIR))
        pipeline = cls(root, crawler=crawler)
        crawler.signals.connect(pipeline._spider_idle, signal=signals.spider_idle)
        crawler.signals.connect(pipeline._erased, signal=traces_erased)
        return pipeline

    # --- Ouverture, fermeture -------------------------------------------------------------
    def open_spider(self, spider=None):
        super().open_spider()
        messages = message_store(self.crawler)
        if messages is None or not messages.opened:
            return  # départ refusé (arguments, configuration, fichiers) : rien n'est touché
        index = AttachmentIndex(self.data_dir, self.max_attempts)
        try:
            index.open()
        except (OSError, StorageError) as exc:
            refuse_start(self.crawler, "input_error", "Index des pièces jointes inutilisable : "
                                                      f"{os_reason(exc)}. Rien n'a été modifié.")
            return
        self.index = index
        # Déjà là : pièces notées ok dont le fichier est présent et complet.
        self.stats.set_value("files/already", sum(1 for key, entry in index.entries.items()
                                                  if entry.status == OK and key not in index.stale))
        self.backlog = Backlog(self, index, messages.directory)

    def _erased(self, conversations: set[str], messages: set[tuple]) -> None:
        if self.index is not None:  # effacées des fichiers pendant le direct
            self.index.forget(conversations, messages)

    def close_spider(self, spider=None):
        if self.backlog is not None:
            self.backlog.cancel()
        for task in list(self.pending):
            task.cancel()
        if self.index is not None:
            try:
                self.index.close()
            except OSError as exc:
                logger.error("Index des pièces jointes non réécrit (%s) : il reste valable, "
                             "la prochaine exécution le remettra en ordre.", os_reason(exc))
            self.stats.set_value("files/index_ok", self.index.counts().get(OK, 0))

    def _spider_idle(self, spider=None):
        """L'API n'a plus rien à faire : le rattrapage doit finir avant la fermeture."""
        if self.backlog is None:
            return
        self.backlog.start()
        if self.pending or not self.backlog.done:
            raise DontCloseSpider

    def wake_if_done(self) -> None:
        """Tout est noté : l'araignée, peut-être en attente, peut se fermer tout de suite."""
        engine = self.crawler.engine
        if (not self.pending and self.backlog is not None and self.backlog.done
                and engine is not None and engine.running):
            compat.wake_engine(engine)

    # --- Items ------------------------------------------------------------------------------
    async def process_item(self, item, spider=None):
        if self.index is None or not isinstance(item, MessageBatch):
            return item
        if self.backlog is not None:
            # L'API a répondu : le rattrapage peut partir, en parallèle des appels.
            self.backlog.start()
        refs = file_refs(item.session_id, item.messages)
        if refs:
            task = compat.spawn(self.fetch(refs))
            self.pending.add(task)
            task.add_done_callback(self._fetched)
        return item

    def _fetched(self, task: asyncio.Task) -> None:
        self.pending.discard(task)
        self.wake_if_done()

    async def fetch(self, refs: list[FileRef]) -> None:
        """Télécharge ce qui doit l'être parmi ``refs`` et le note dans l'index."""
        await asyncio.gather(*(self._fetch_one(ref) for ref in refs))

    async def _fetch_one(self, ref: FileRef) -> None:
        async with self.in_flight:
            await super().process_item(FileRefs([ref]))

    # --- Surcharges du FilesPipeline ---------------------------------------------------------
    def get_media_requests(self, item: Any, info) -> list[Request]:
        assert self.index is not None and isinstance(item, FileRefs)
        requests, refused, seen = [], [], set()
        for ref in item.refs:
            if ref.key in seen or ref.key in self.attempted:
                continue  # une tentative par exécution (lots et rattrapage se recoupent)
            seen.add(ref.key)
            reason = settled(self.index, ref)
            if reason is not None:
                if reason != OK:
                    self.stats.inc_value("files/abandoned")
                continue
            if not scheme_allowed(ref.url):
                refused.append(self._failed(ref, "schema_refuse"))
                continue
            try:
                request = Request(ref.url, callback=NO_CALLBACK, meta=self._meta(ref))
            except ValueError:
                refused.append(self._failed(ref, "url_invalide"))
                continue
            self.attempted.add(ref.key)
            item.todo.append(ref)
            requests.append(request)
        self.attempted.update(entry.key for entry in refused)
        self.index.record(refused)
        return requests

    def _meta(self, ref: FileRef) -> dict:
        return {FILE_META: True, REF_META: ref, "download_slot": FILES_SLOT,
                "download_timeout": self.timeout, "download_maxsize": self.max_size,
                "max_retry_times": RETRY_TIMES, "autothrottle_dont_adjust_delay": True}

    def media_to_download(self, request, info, *, item=None):
        # L'index a déjà décidé (get_media_requests) : aucune relecture des octets sur disque.
        return None

    async def media_downloaded(self, response, request, info, *, item=None):
        if response.status != 200 or not response.body:
            status = f"http_{response.status}" if response.status != 200 else "vide"
            return {"url": request.url, "path": "", "checksum": None, "status": status}
        # Ce que fait FilesPipeline.media_downloaded, sans son journal anglais avec trace : un
        # disque plein (ou en lecture seule) arrête l'export, la pièce reste à faire ; une autre
        # erreur d'écriture (un chemin occupé…) est un échec de cette pièce, compté.
        path = self.file_path(request, response=response, info=info, item=item)
        try:
            checksum = self.file_downloaded(response, request, info, item=item)
        except OSError as exc:
            if exc.errno not in DISK_ERRNOS:
                return {"url": request.url, "path": "", "checksum": None, "status": "ecriture"}
            self._disk_stop(exc)
            return {"url": request.url, "path": "", "checksum": None, "status": INTERRUPTED}
        status = "cached" if "cached" in response.flags else "downloaded"
        self.inc_stats(status)
        return {"url": request.url, "path": path, "checksum": checksum, "status": status}

    def media_failed(self, failure, request, info):
        raise AttachmentFailure(failure_reason(failure.value))

    def file_downloaded(self, response, request, info, *, item=None):
        path = self.file_path(request, response=response, info=info, item=item)
        # Octets écrits d'un coup (AttachmentStore) AVANT que l'index ne les annonce.
        self.store.persist_file(path, BytesIO(response.body), info)
        return "sha256:" + hashlib.sha256(response.body).hexdigest()

    def file_path(self, request, response=None, info=None, *, item=None) -> str:
        return request.meta[REF_META].relpath

    def item_completed(self, results, item, info):
        assert self.index is not None
        entries = []
        for ref, (ok, value) in zip(item.todo, results, strict=True):
            if ok and value["status"] in DOWNLOADED:
                path = f"{FILES_DIR}/{value['path']}"
                size = os.stat(os.path.join(self.data_dir, path)).st_size
                entries.append(Entry(ref.session_id, ref.fingerprint, ref.url, path, size,
                                     value["checksum"], OK))
                if value["status"] == "downloaded":
                    self.stats.inc_value("files/downloaded")
                    self.stats.inc_value("files/bytes", size)
                continue
            if ok:
                reason = value["status"]
            else:
                reason = getattr(value.value, "reason", "erreur")
            entries.append(self._failed(ref, reason))
        compat.trim_media_cache(self.spiderinfo)  # le direct tourne des jours : mémoire plate
        try:
            self.index.record(entries)
        except OSError as exc:
            # Index non complété : ces pièces seront reprises (leurs octets déjà écrits, aussi).
            self._disk_stop(exc)
        return item

    def _disk_stop(self, exc: OSError) -> None:
        """Disque plein, lecture seule… : l'export s'arrête, dit une fois (pas par pièce)."""
        if not self.disk_failed:
            self.disk_failed = True
            stop_export(self.crawler, "output_error",
                        f"Arrêt de l'export : pièce jointe non écrite ({os_reason(exc)}).")

    def _failed(self, ref: FileRef, reason: str) -> Entry:
        assert self.index is not None
        attempts = attempts_before(self.index, ref) + (reason != INTERRUPTED)
        if reason == INTERRUPTED:
            self.stats.inc_value("files/interrupted")
        else:
            self.stats.inc_value("files/failed")
            self.stats.inc_value(f"files/status/{reason}")
            say = logger.info if self.repeats.first(reason) else logger.debug
            say("Pièce jointe non obtenue (%s, essai %d sur %d) : message %s de la conversation "
                "%s.", reason, attempts, self.max_attempts, ref.fingerprint, ref.session_id)
        return Entry(ref.session_id, ref.fingerprint, ref.url, ref.path, None, None, reason,
                     attempts)
