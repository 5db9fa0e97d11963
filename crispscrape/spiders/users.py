"""``scrapy crawl users [-a nb=N] [-a reset=1]`` : les profils des personnes des conversations.

Étapes et fichiers (un par étape) :
choix des e-mails et appels (ce fichier) -> dédoublonnage, ajout et tri final
(pipelines/users.py) -> fichier et état (storage/users.py) ; choix des e-mails : paging/users.py.

Les e-mails sont lus en flux dans conversations.jsonl (``meta.email``, ou ``data.meta.email``
pour les lignes enveloppées), dédoublonnés sans tenir compte de la casse ; on saute ceux
qui ont déjà un profil dans utilisateurs.jsonl et ceux déjà connus sans fiche (404 retenus
dans l'état). ``nb`` compte les profils AJOUTÉS : un e-mail sans fiche ne consomme pas le
budget. Plusieurs profils sont demandés en parallèle, jamais plus que ce qu'il reste à
ajouter (on n'appelle pas l'API pour des profils qu'on ne garderait pas).
"""

from __future__ import annotations

import asyncio
import logging

from scrapy import signals

from crispscrape.api import InvalidResponse
from crispscrape.items import ProfileItem
from crispscrape.paging.users import plan_profiles
from crispscrape.pipelines.users import UsersPipeline
from crispscrape.spiders.removals import ROLE, ProfileRemovalCheck
from crispscrape.spiders.base import ExportSpider

# Attente maximale entre deux vérifications du budget (secondes) : filet de sécurité si un
# réveil se perdait, sans coût notable.
WAKE_TIMEOUT = 1.0


class UsersSpider(ProfileRemovalCheck, ExportSpider):
    name = "users"
    default_nb = 50
    # -a verify=1 : redemander aussi chaque profil déjà exporté (un appel chacun) ; un 404
    # dit qu'il est supprimé chez Crisp (docs/suppressions.md).
    flags = ("verify",)
    verify = False
    custom_settings = {
        "ITEM_PIPELINES": {
            # Le dernier fermé : le registre des suppressions (pipelines/removals.py).
            "crispscrape.pipelines.removals.RemovalsPipeline": 50,
            "crispscrape.pipelines.users.UsersPipeline": 300,
        },
    }

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.profile_saved, signal=signals.item_scraped)
        crawler.signals.connect(spider.profile_not_saved, signal=signals.item_error)
        crawler.signals.connect(spider.profile_dropped, signal=signals.item_dropped)
        return spider

    progress_key = "users/answered"
    progress_unit = "profils demandés"

    def expected_work(self):
        status = self.account_status()
        return None if status is None else min(self.nb, status.profiles_to_ask)

    def prepare(self) -> None:
        # Profils demandés dont l'issue (ajout, 404, échec) n'est pas encore connue.
        self.pending = 0
        self.wake = asyncio.Event()
        self.interrupted = False

    async def export_requests(self):
        stats = self.crawler.stats
        self.store = UsersPipeline.store_for(self.crawler)
        for email, key, recheck in plan_profiles(self.store, recheck=self.verify):
            while True:
                added = stats.get_value("users/added", 0)
                if self.interrupted or added >= self.nb:
                    return
                if self.pending + added < self.nb:
                    break
                # Budget occupé par les demandes en cours : on attend l'issue de l'une d'elles.
                self.wake.clear()
                try:
                    await asyncio.wait_for(self.wake.wait(), WAKE_TIMEOUT)
                except asyncio.TimeoutError:
                    pass
            self.pending += 1
            yield self.api_request(self.api_config.website_url("people", "profile", email),
                                   self.parse_profile, dont_filter=True,
                                   cb_kwargs={"email": email, "key": key, "recheck": recheck})

    def parse_profile(self, response, email: str, key: str, recheck: bool = False):
        try:
            profile = self.api_data(response, dict)
        except InvalidResponse as exc:
            yield from self.retry_or_fail(response.request, exc)
            return
        self.site_proven = True  # un profil de ce site répond : le site et l'URL sont bons
        yield ProfileItem(email, key, profile, recheck=recheck)

    # --- Issues d'une demande ---------------------------------------------------------
    def _settled(self) -> None:
        self.pending -= 1
        self.wake.set()

    def _progress(self, message: str, *args, level: int = logging.DEBUG) -> None:
        # Une ligne par profil en DEBUG : la progression d'ensemble vient de
        # extensions/progress.py, au plus une ligne toutes les quelques secondes.
        stats = self.crawler.stats
        self.logger.log(level, message + " (ajoutés : %d/%d, sans fiche : %d, déjà présents : %d)", *args,
                         stats.get_value("users/added", 0), self.nb,
                         stats.get_value("users/ignored_not_found", 0),
                         stats.get_value("users/ignored_present", 0))

    def resource_missing(self, request):
        # Pas de fiche (404) : le pipeline le retient dans l'état, pour ne plus la demander.
        kwargs = request.cb_kwargs
        if not kwargs.get("recheck") and request.meta.get(ROLE) is None:
            return [ProfileItem(kwargs["email"], kwargs["key"], None)]
        # Un profil déjà exporté qui répond 404 par son e-mail n'est pas encore prouvé
        # supprimé (l'adresse a pu changer) : voir spiders/removals.py (ProfileRemovalCheck).
        return self.check_profile_removed(request)

    def resource_failed(self, request, why):
        if not self.end_removal_checks(request):
            self._settled()
        return ()

    def resource_interrupted(self, request):
        self.interrupted = True
        if not self.end_removal_checks(request):
            self._settled()
        return ()

    def profile_saved(self, item, response, spider):
        if not isinstance(item, ProfileItem):
            return
        if item.removed:
            self._progress("Profil de %s supprimé chez Crisp (404 à la revérification)",
                           item.email, level=logging.INFO)
        elif item.profile is None:
            self._progress("Pas de fiche pour %s (404) : retenu, ne sera plus demandé", item.email,
                           level=logging.INFO)
        elif item.added:
            self._progress("Profil ajouté : %s", item.email)
        else:
            self._progress("Profil déjà présent sous une autre adresse, ignoré : %s", item.email)
        self._settled()

    def profile_not_saved(self, item, response, spider, failure):
        if isinstance(item, ProfileItem):
            self.abort("output_error", f"Profil de {item.email} non enregistré : "
                                       f"{failure.getErrorMessage()} Arrêt de l'export.")
            self._settled()

    def profile_dropped(self, item, response, exception, spider):
        if isinstance(item, ProfileItem):
            self._settled()

    def abort(self, reason: str, message: str) -> None:
        self.interrupted = True
        super().abort(reason, message)

    # --- Récapitulatif ----------------------------------------------------------------
    def summary_lines(self):
        users_file = getattr(self, "store", None)
        if users_file is None or not users_file.opened:
            return
        stats = self.crawler.stats
        total = len(users_file)
        stats.set_value("users/total", total)
        not_found = stats.get_value("users/ignored_not_found", 0)
        known = stats.get_value("users/ignored_not_found_known", 0)
        yield (f"Utilisateurs présents avant : {stats.get_value('users/present_before', 0)} ; "
               f"ajoutés : {stats.get_value('users/added', 0)}.")
        yield (f"Ignorés : {stats.get_value('users/ignored_present', 0)} déjà présents, "
               f"{not_found + known} sans fiche (404), dont {known} déjà connus (aucun appel).")
        if users_file.path.exists():
            yield f"Le fichier {users_file.path} contient désormais {total} profils."
        else:
            yield f"Aucun fichier écrit : {users_file.path} n'existe pas."
