"""Pourquoi une pièce jointe n'a pas été obtenue : la raison courte notée dans l'index.

Séparé du pipeline (pipelines/attachments.py) : une table de correspondance, sans état,
testée seule (tests/unit/test_attachments.py).
"""

from __future__ import annotations

from scrapy.exceptions import (
    CannotResolveHostError, DownloadCancelledError, DownloadConnectionRefusedError,
    DownloadTimeoutError, IgnoreRequest,
)
from twisted.internet import error as twisted_errors

from crispscrape import compat
from crispscrape.api import QuotaExceeded
from crispscrape.storage.file_index import INTERRUPTED


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
