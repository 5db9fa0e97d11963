"""``scrapy crawl users [-a nb=N] [-a reset=1]`` : les profils des personnes des conversations.

Étapes et fichiers (un par étape) :
choix des e-mails et appels (ce fichier) -> dédoublonnage, ajout et tri final
(pipelines/users.py) -> fichier et état (stores/users.py).

Les e-mails sont lus en flux dans conversations.jsonl (``meta.email``, ou ``data.meta.email``
pour les lignes enveloppées), dédoublonnés sans tenir compte de la casse ; on saute ceux
qui ont déjà un profil dans utilisateurs.jsonl et ceux déjà connus sans fiche (404 retenus
dans l'état). ``nb`` compte les profils AJOUTÉS : un e-mail sans fiche ne consomme pas le
budget. Plusieurs profils sont demandés en parallèle, jamais plus que ce qu'il reste à
ajouter (on n'appelle pas l'API pour des profils qu'on ne garderait pas).
"""

from __future__ import annotations

import asyncio

from scrapy import signals

from crispscrape.api import InvalidResponse
from crispscrape.pipelines.users import ProfileItem
from crispscrape.spiders.base import CrispSpider
from crispscrape.storage.files import StorageError, claim_directory
from crispscrape.storage.jsonl import read_lines
from crispscrape.model import unwrap
from crispscrape.storage.paths import check_output
from crispscrape.model import email_key
from crispscrape.storage.users import UsersFile

# Attente maximale entre deux vérifications du budget (secondes) : filet de sécurité si un
# réveil se perdait, sans coût notable.
WAKE_TIMEOUT = 1.0


class UsersSpider(CrispSpider):
    name = "users"
    default_nb = 50
    custom_settings = {
        "ITEM_PIPELINES": {"crispscrape.pipelines.users.UsersPipeline": 300},
    }

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.profile_saved, signal=signals.item_scraped)
        crawler.signals.connect(spider.profile_not_saved, signal=signals.item_error)
        crawler.signals.connect(spider.profile_dropped, signal=signals.item_dropped)
        return spider

    # --- Préparation ----------------------------------------------------------------
    def prepare(self) -> None:
        self.conversations_path = self.config.data_dir / "conversations" / "conversations.jsonl"
        if not self.conversations_path.is_file():
            raise StorageError(
                f"Fichier des conversations introuvable : {self.conversations_path}. Lancez "
                "d'abord « scrapy crawl conversations ». Aucun fichier n'a été créé."
            )
        root = self.config.data_dir / "utilisateurs"
        path = root / "utilisateurs.jsonl"
        state_path = root / "utilisateurs.jsonl.state.json"
        check_output(root, path)
        self._lock = claim_directory(root, "export des utilisateurs", self.logger)
        if state_path.exists() and not state_path.is_file():
            raise StorageError(f"{state_path} existe mais n'est pas un fichier. Rien n'a été "
                               "modifié ; renommez-le ou supprimez-le puis relancez.")
        users_file = UsersFile(path, state_path, self.logger, self.crawler.stats)
        if self.reset:
            # Seulement maintenant : configuration et arguments sont validés.
            users_file.delete()
            self.logger.info("reset : %s et son état supprimés, export repris de zéro.", path)
        users_file.load()
        self.users_file = users_file
        self.crawler.stats.set_value("users/present_before", len(users_file))
        # Profils demandés dont l'issue (ajout, 404, échec) n'est pas encore connue.
        self.pending = 0
        self.wake = asyncio.Event()
        self.interrupted = False

    # --- Choix des e-mails ----------------------------------------------------------
    def _new_emails(self):
        """(e-mail tel qu'écrit, clé casefold) des personnes à demander, en flux."""
        stats, users_file, seen = self.crawler.stats, self.users_file, set()
        for line in read_lines(self.conversations_path, "Fichier des conversations"):
            number, line_object = line.number, line.obj
            if line_object is None:
                stats.inc_value("users/unreadable_conversation_lines")
                self.logger.warning("conversations.jsonl, ligne %d illisible : ignorée.", number)
                continue
            conversation = unwrap(line_object)
            meta = conversation.get("meta") if isinstance(conversation, dict) else None
            email = meta.get("email") if isinstance(meta, dict) else None
            if not isinstance(email, str) or not email.strip():
                stats.inc_value("users/conversations_without_email")
                continue
            key = email_key(email)
            if key is None:
                stats.inc_value("users/ignored_invalid_email")
                self.logger.warning("conversations.jsonl, ligne %d : « %s » n'est pas une adresse "
                                    "e-mail, ignorée.", number, email.strip()[:80])
                continue
            if key in seen:
                continue
            seen.add(key)
            if users_file.is_present(key):
                stats.inc_value("users/ignored_present")
                self.logger.debug("Déjà présent, ignoré : %s", email.strip())
            elif users_file.is_not_found(key):
                stats.inc_value("users/ignored_not_found_known")
                self.logger.debug("Sans fiche (déjà connu), ignoré : %s", email.strip())
            else:
                yield email.strip(), key

    async def crisp_requests(self):
        stats = self.crawler.stats
        for email, key in self._new_emails():
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
            yield self.api_request(self.config.website_url("people", "profile", email),
                                   self.parse_profile, cb_kwargs={"email": email, "key": key},
                                   dont_filter=True)

    def parse_profile(self, response, email: str, key: str):
        try:
            profile = self.api_data(response, dict)
        except InvalidResponse as exc:
            yield from self.retry_or_fail(response.request, exc)
            return
        yield ProfileItem(email, key, profile)

    # --- Issues d'une demande ---------------------------------------------------------
    def _settled(self) -> None:
        self.pending -= 1
        self.wake.set()

    def _progress(self, message: str, *args) -> None:
        stats = self.crawler.stats
        self.logger.info(message + " (ajoutés : %d/%d, sans fiche : %d, déjà présents : %d)", *args,
                         stats.get_value("users/added", 0), self.nb,
                         stats.get_value("users/ignored_not_found", 0),
                         stats.get_value("users/ignored_present", 0))

    def resource_missing(self, request):
        email, key = request.cb_kwargs["email"], request.cb_kwargs["key"]
        self.crawler.stats.inc_value("users/ignored_not_found")
        try:
            self.users_file.mark_not_found(key)
        except (OSError, StorageError) as exc:
            self.abort("output_error", f"Impossible d'enregistrer l'état {self.users_file.state.path} "
                                       f": {getattr(exc, 'strerror', None) or exc}.")
        self._progress("Pas de fiche pour %s (404) : retenu, ne sera plus demandé", email)
        self._settled()
        return ()

    def resource_failed(self, request, why):
        self._settled()
        return ()

    def resource_interrupted(self, request):
        self.interrupted = True
        self._settled()
        return ()

    def profile_saved(self, item, response, spider):
        if not isinstance(item, ProfileItem):
            return
        if item.added:
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
        users_file = getattr(self, "users_file", None)
        if users_file is None:
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
        yield f"Le fichier {users_file.path} contient désormais {total} profils."
