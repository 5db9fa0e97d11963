"""Profils : dédoublonnage par e-mail (sans tenir compte de la casse), ajout, tri final.

Ce pipeline possède le magasin des utilisateurs (fichier + état). Chaque profil reçu est
ajouté aussitôt à utilisateurs.jsonl (ligne complète + fsync) : un arrêt brutal ne perd que
les profils en cours de téléchargement. Une personne sans fiche (404) est retenue dans
l'état pour ne plus la demander. À la fermeture, le fichier est réécrit d'un coup, trié par
e-mail (casefold), les lignes du script d'origine normalisées en objets ``data``.
"""

from __future__ import annotations

from scrapy.exceptions import DropItem

from crispscrape.config import removal_policy
from crispscrape.items import ProfileItem
from crispscrape.pipelines.base import StorePipeline
from crispscrape.signals import traces_erased
from crispscrape.storage.files import StorageError
from crispscrape.oserrors import os_reason
from crispscrape.storage.users import UsersStore


class UsersPipeline(StorePipeline):
    def __init__(self, crawler):
        super().__init__(crawler)
        crawler.signals.connect(self._erased, signal=traces_erased)

    def _erased(self, conversations: set[str], messages: set[tuple],
                profiles: frozenset[str] | set[str] = frozenset()) -> None:
        if self.store is not None and profiles:  # effacés des fichiers pendant le direct
            self.store.forget_people(profiles)

    @staticmethod
    def make_store(crawler, context) -> UsersStore:
        return UsersStore(context.config.data_dir, crawler.stats)

    def process_item(self, item, spider=None):
        if not isinstance(item, ProfileItem) or self.store is None:
            return item
        store = self.store
        if item.set_aside:
            # Fiche non valide (validation/pipeline.py) : la demande est satisfaite, sans profil.
            store.mark_set_aside(item.key)
            raise DropItem("profil non valide, mis de côté", log_level="INFO")
        self.stats.inc_value("users/answered")
        try:
            if item.removed:
                # Supprimé chez Crisp : retiré avec CRISP_REMOVED=erase, gardé avec keep.
                if removal_policy(self.crawler.settings) == "erase":
                    store.remove(item.key)
                return item
            if item.profile is None:
                store.mark_not_found(item.key)
                self.stats.inc_value("users/ignored_not_found")
                return item
            if item.recheck:
                return item  # toujours là : rien de plus à faire
            if item.refresh:
                if store.refresh(item.profile):
                    self.stats.inc_value("users/refreshed")
                return item
            item.added = store.add(item.profile, item.key)
        except OSError as exc:
            raise StorageError(
                f"Écriture impossible dans {store.path} : {os_reason(exc)}. Les profils "
                "déjà présents sont intacts ; celui-ci sera redemandé à la prochaine exécution."
            ) from exc
        self.stats.inc_value("users/added" if item.added else "users/ignored_present")
        self.stats.set_value("users/total", len(store))
        return item
