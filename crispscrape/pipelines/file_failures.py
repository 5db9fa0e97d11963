"""Pourquoi une pièce jointe n'a pas été obtenue (la raison courte notée dans l'index), et si
elle doit être demandée de nouveau.

Séparé du pipeline (pipelines/attachments.py) : des règles sans état, testées seules
(tests/unit/test_attachments.py).
"""

from __future__ import annotations

from scrapy.exceptions import (
    CannotResolveHostError, DownloadCancelledError, DownloadConnectionRefusedError,
    DownloadTimeoutError, IgnoreRequest,
)
from twisted.internet import error as twisted_errors

from crispscrape import compat
from crispscrape.api import QuotaExceeded
from crispscrape.file_refs import FileRef
from crispscrape.storage.file_index import INTERRUPTED, OK, REFUSED, AttachmentIndex, abandoned
from crispscrape.storage.layout import FILES_DIR


class AttachmentFailure(compat.quiet_media_failure()):  # type: ignore[misc]
    """Échec d'une pièce jointe, avec sa raison courte (``timeout``, ``trop_gros``…)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def failure_reason(exc: BaseException) -> str:
    """Raison courte notée dans l'index pour une exception de téléchargement."""
    if isinstance(exc, QuotaExceeded):
        return INTERRUPTED  # le crawl s'arrête : rien n'est parti
    if isinstance(exc, (DownloadTimeoutError, twisted_errors.TimeoutError, TimeoutError)):
        return "timeout"
    if isinstance(exc, DownloadCancelledError):
        return "trop_gros" if "max size" in str(exc) else INTERRUPTED
    if isinstance(exc, (CannotResolveHostError, twisted_errors.DNSLookupError)):
        return "dns"
    if isinstance(exc, (DownloadConnectionRefusedError, twisted_errors.ConnectionRefusedError,
                        ConnectionRefusedError)):
        return "connexion_refusee"
    if isinstance(exc, IgnoreRequest):
        return "refuse"  # redirection vers un schéma interdit, par exemple
    return "erreur_reseau"


def settled(index: AttachmentIndex, ref: FileRef) -> str | None:
    """Pourquoi cette pièce ne doit pas être demandée (``ok``, refus, échecs épuisés), ou None
    s'il faut la télécharger."""
    entry = index.entries.get(ref.key)
    if entry is None or entry.url != ref.url:
        return None
    if entry.status == OK:
        return None if ref.key in index.stale else OK
    if entry.status in REFUSED:
        return "refused"
    return "abandoned" if abandoned(entry, index.max_attempts) else None


def attempts_before(index: AttachmentIndex, ref: FileRef) -> int:
    entry = index.entries.get(ref.key)
    return entry.attempts if entry is not None and entry.url == ref.url else 0


def to_retry(index: AttachmentIndex) -> list[FileRef]:
    """Pièces de l'index à redemander : échecs sous la limite, interrompues, ``ok`` absentes."""
    prefix = FILES_DIR + "/"
    refs = (FileRef(e.session_id, e.fingerprint, e.url, e.path.removeprefix(prefix))
            for e in index.entries.values() if e.path.startswith(prefix))
    return [ref for ref in refs if settled(index, ref) is None]
