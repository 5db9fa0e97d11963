"""Le magasin des octets des pièces jointes, choisi par ``AttachmentsPipeline.STORE_SCHEMES``
(attachments.py) à la place du ``FSFilesStore`` de Scrapy (scrapy/pipelines/files.py)."""

from __future__ import annotations

import os
from io import BytesIO
from typing import TYPE_CHECKING, Any

from crispscrape.storage.files import atomic_write_bytes

if TYPE_CHECKING:
    from scrapy.pipelines.files import StatInfo
    from scrapy.pipelines.media import MediaPipeline


class AttachmentStore:
    """Magasin des octets du FilesPipeline (interface du FSFilesStore de Scrapy, qui écrit
    directement avec le mode de l'umask) : chaque fichier écrit d'un coup, en 0600, jamais
    tronqué sous son vrai nom ; rien n'est créé avant la première écriture."""

    def __init__(self, basedir: str):
        self.basedir = os.path.abspath(basedir)

    def _target(self, path: str) -> str:
        target = os.path.abspath(os.path.join(self.basedir, *path.split("/")))
        if os.path.commonpath([target, self.basedir]) != self.basedir or target == self.basedir:
            # Jamais atteint avec les noms de attachments.py : dernière barrière.
            raise ValueError(f"chemin hors du répertoire des fichiers : {path!r}")
        return target

    def persist_file(self, path: str, buf: BytesIO, info: MediaPipeline.SpiderInfo,
                     meta: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
        atomic_write_bytes(self._target(path), buf.getvalue())

    def stat_file(self, path: str, info: MediaPipeline.SpiderInfo) -> StatInfo:
        # Jamais consulté : c'est l'index qui dit ce qui est déjà là (sans relire les octets).
        return {}
