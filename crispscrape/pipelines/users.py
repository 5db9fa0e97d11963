"""Profils : dédoublonnage par e-mail (sans tenir compte de la casse), ajout, tri final.

Chaque profil reçu est ajouté aussitôt à utilisateurs.jsonl (ligne complète + fsync) : un
arrêt brutal ne perd que les profils en cours de téléchargement. À la fermeture, le
fichier est réécrit d'un coup, trié par e-mail (casefold), les lignes du script d'origine
normalisées en objets ``data``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from crispscrape.pipelines.base import CrawlerPipeline
from crispscrape.storage.files import StorageError

logger = logging.getLogger(__name__)


@dataclass
class ProfileItem:
    """Un profil reçu de l'API (l'objet ``data`` tel quel) et l'e-mail qui l'a demandé."""

    email: str
    key: str  # e-mail demandé, en casefold
    profile: dict
    added: bool | None = None  # rempli par le pipeline

    def __repr__(self) -> str:
        return f"ProfileItem(email={self.email!r})"


class UsersPipeline(CrawlerPipeline):
    def process_item(self, item, spider=None):
        if not isinstance(item, ProfileItem):
            return item
        # Ouvert (lu, réparé) par l'araignée dans prepare(), configuration validée.
        store = self.crawler.spider.users_file
        try:
            item.added = store.add(item.profile, item.key)
        except OSError as exc:
            raise StorageError(
                f"Écriture impossible dans {store.path} : {exc.strerror or exc}. Les profils "
                "déjà présents sont intacts ; celui-ci sera redemandé à la prochaine exécution."
            ) from exc
        self.stats.inc_value("users/added" if item.added else "users/ignored_present")
        self.stats.set_value("users/total", len(store))
        return item

    def close_spider(self, spider=None):
        store = getattr(self.crawler.spider, "users_file", None)
        if store is None:
            # L'araignée a refusé de démarrer : aucun fichier n'est touché.
            return
        try:
            if store.finish():
                logger.info("Fichier %s trié par e-mail (%d profils).", store.path, len(store))
        except OSError as exc:
            self.stats.inc_value("users/final_sort_failed")
            logger.error("Tri final de %s impossible : %s. Le fichier est complet mais pas trié ; "
                         "il le sera à la prochaine exécution.", store.path, exc.strerror or exc)
        self.stats.set_value("users/total", len(store))
