"""Une conversation supprimée chez Crisp se prouve par Crisp lui-même, jamais par une absence.

Un 404 sur les messages d'une conversation connue ne suffit pas (une URL d'API fausse répond
404 partout) : UN appel le confirme, ``GET /website/{site}/conversation/{session_id}``.

- il répond 200 : la conversation existe, le 404 des messages reste inexpliqué ; elle est
  « introuvable » comme avant (redemandée tant qu'elle est listée) ;
- il répond 404 : supprimée — si le site a déjà montré dans cette exécution qu'il est bien
  celui de l'export (un lot de messages d'une conversation de l'export reçu). Sinon, la page
  1 de la liste est demandée, une fois : un 404 y dit que l'URL de l'API est fausse (arrêt
  ``bad_api_url``) ; une page sans aucune conversation de l'export, que l'export n'est pas
  celui de ce site (ID_SITE_CRISP, -a website ou CRISP_DATA_DIR ; arrêt ``wrong_website``).
  Rien n'est supprimé dans les deux cas ;
- toute autre issue (401/403, 5xx, délai, quota) : rien n'est supprimé ; la conversation
  finit en échec ou interrompue, comme tout autre appel perdu.

Une suppression prouvée part par le signal ``conversation_removed`` (registre, effacement :
pipelines/removals.py) et referme la conversation (``MessageBatch`` de fin « supprimée »).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from crispscrape.items import REMOVED, MessageBatch, ProfileItem
from crispscrape.model import session_id_of
from crispscrape.outcome import CAUSE_STAT
from crispscrape.paging.selection import listed
from crispscrape.signals import conversation_removed, profile_removed

# Rôle d'une requête de ce module dans request.meta.
ROLE = "crisp_removal"
CONFIRM, PROOF = "confirmer", "preuve"


class _SpiderSide:
    """Ce que les vérifications ci-dessous utilisent de l'araignée (spiders/base.py), pour
    la vérification des types : aucune valeur ici."""

    crawler: Any
    api_config: Any
    api_request: Any
    api_data: Any
    stop: Any
    store: Any


class RemovalCheck(_SpiderSide):
    """À placer avant ``ConversationEnds`` : reprend ses fins « introuvable », « échec »,
    « interrompue » pour les requêtes de confirmation."""

    # Vrai dès qu'un lot de messages d'une conversation de l'export a été reçu : le site et
    # l'URL sont les bons (posé par MessagesSpider.parse_batch).
    site_proven: bool
    # Suppressions en attente de la preuve que l'URL de l'API est la bonne (posé par
    # MessagesSpider.from_crawler).
    _removal_waiting: list

    def resource_missing(self, request):
        role = request.meta.get(ROLE)
        if role is None:
            self.crawler.stats.inc_value("removed/checks")
            fetch = request.cb_kwargs["fetch"]
            url = self.api_config.website_url("conversation", fetch.session_id)
            return [self.api_request(url, self._still_there, cb_kwargs={"fetch": fetch},
                                     meta={ROLE: CONFIRM}, priority=1, dont_filter=True)]
        if role == PROOF:
            self.stop("bad_api_url", f"L'API répond 404 sur la liste des conversations "
                                     f"({request.url}) : l'URL de l'API "
                                     f"({self.api_config.api_url}) semble fausse ; rien n'a été "
                                     "supprimé.")
        fetch = request.cb_kwargs["fetch"]
        evidence = f"404 sur GET {urlsplit(request.url).path}"
        if self.site_proven:
            return self._removed(fetch, evidence)
        self._removal_waiting.append((fetch, evidence))
        if len(self._removal_waiting) > 1:
            return []  # la preuve est déjà demandée
        url = self.api_config.website_url("conversations", "1") + "?per_page=20"
        return [self.api_request(url, self._proven, meta={ROLE: PROOF}, priority=2,
                                 dont_filter=True)]

    def _still_there(self, response, fetch):
        self.crawler.stats.inc_value("messages/conversations_not_found")
        return [MessageBatch(fetch.session_id, fetch.rank, end="introuvable")]

    def _proven(self, response):
        page = {session_id_of(c) for c in self.api_data(response, list)}
        if not page & {c.session_id for c in listed(self.store.conversations_path)}:
            self.stop("wrong_website", "La liste des conversations de ce site ne contient aucune "
                                       "des conversations de l'export : ID_SITE_CRISP (ou -a "
                                       "website) et CRISP_DATA_DIR ne vont pas ensemble ; rien "
                                       "n'a été supprimé.")
        self.site_proven = True
        waiting, self._removal_waiting = self._removal_waiting, []
        for fetch, evidence in waiting:
            yield from self._removed(fetch, evidence)

    def _removed(self, fetch, evidence: str) -> list:
        self.crawler.signals.send_catch_log(conversation_removed, session_id=fetch.session_id,
                                            evidence=evidence)
        if self.crawler.stats.get_value(CAUSE_STAT) is not None:
            return []  # registre impossible à écrire : l'export s'arrête, rien n'est retiré
        return [MessageBatch(fetch.session_id, fetch.rank, end=REMOVED)]

    def resource_failed(self, request, why):
        if request.meta.get(ROLE) == PROOF:
            return self._end_waiting("échec")
        return super().resource_failed(request, why)  # type: ignore[misc]

    def resource_interrupted(self, request):
        if request.meta.get(ROLE) == PROOF:
            return self._end_waiting("interrompue")
        return super().resource_interrupted(request)  # type: ignore[misc]

    def _end_waiting(self, why: str) -> list:
        """La preuve n'a pas abouti : rien n'est supprimé, les conversations en attente
        finissent comme elle (en échec ou interrompues : redemandées plus tard)."""
        waiting, self._removal_waiting = self._removal_waiting, []
        return [MessageBatch(fetch.session_id, fetch.rank, end=why) for fetch, _ in waiting]


class ChatRemovalCheck(_SpiderSide):
    """Ninja, Wanzo : la liste entière est relevée à chaque exécution, c'est un recensement.
    Une conversation connue qui n'y est plus est confirmée par un appel sur ses messages ;
    404 = supprimée (la liste, demandée la première, a prouvé l'URL de l'API). Une
    conversation listée dont les messages répondent 404 n'est PAS supprimée (la liste la
    montre) : introuvable, comme avant. À placer avant ``ConversationEnds``."""

    source: Any
    logger: Any

    def unlisted_requests(self, known_at_open: set[str], listed: set[str], removed: set[str],
                          fetch_of) -> list:
        """Une requête de confirmation par conversation connue absente de la liste entière
        (``fetch_of(id)`` : sa première page, comme pour l'exporter)."""
        missing = sorted(known_at_open - listed - removed)
        self.crawler.stats.set_value("census/unlisted", len(missing))
        if not unlisted_trusted(len(missing), known_at_open, listed, self.logger):
            return []
        return [self.api_request(self.source.messages_url(self.api_config, cid, fetch.page),
                                 self._still_there, cb_kwargs={"fetch": fetch},
                                 meta={ROLE: CONFIRM}, dont_filter=True)
                for cid, fetch in ((cid, fetch_of(cid)) for cid in missing)]

    def _still_there(self, response, fetch):
        self.crawler.stats.inc_value("census/unlisted_present")
        return []

    def resource_missing(self, request):
        if request.meta.get(ROLE) != CONFIRM:
            return super().resource_missing(request)  # type: ignore[misc]
        self.crawler.signals.send_catch_log(
            conversation_removed, session_id=request.cb_kwargs["fetch"].conversation_id,
            evidence=f"404 sur GET {urlsplit(request.url).path} (absente de la liste)")
        return []


def unlisted_trusted(missing: int, known_at_open: set[str], listed: set[str], logger) -> bool:
    """La liste entière peut-elle servir à chercher des supprimées ? Non si elle ne montre
    AUCUNE des conversations que l'export avait en ouvrant (autre site, autre compte : leurs
    conversations répondraient toutes 404), ni si plus de la moitié de celles-ci manquent
    (pas un ménage ordinaire : page vide par erreur, liste tronquée). Rien n'est alors vérifié
    ni supprimé, et un avertissement le dit. Les conversations ajoutées par cette exécution ne
    comptent pas : elles viennent de la même liste."""
    if known_at_open and not known_at_open & listed:
        logger.warning("La liste des conversations ne montre aucune des %d conversations de "
                       "l'export : ce n'est pas celle de ce site (ID_SITE_CRISP, -a website et "
                       "CRISP_DATA_DIR vont-ils ensemble ?). Rien n'est vérifié ni supprimé.",
                       len(known_at_open))
        return False
    if missing > max(10, len(known_at_open) // 2):
        logger.warning("%d des %d conversations de l'export manquent à la liste : ce n'est "
                       "pas un ménage ordinaire (liste incomplète ? autre site ?). Rien n'est "
                       "vérifié ni supprimé.", missing, len(known_at_open))
        return False
    return True


class ProfileRemovalCheck(_SpiderSide):
    """Profils revérifiés (-a verify=1) : un 404 par l'e-mail n'est qu'un indice (l'adresse
    a pu changer). UN appel par le people_id le confirme : 404 = supprimé ; 200 = le profil
    existe sous une autre adresse, rien ne change. Comme pour les conversations, le site doit
    d'abord avoir prouvé qu'il est le bon (un profil reçu dans cette exécution ; sinon la page
    1 de la liste des profils doit montrer un profil de l'export, ou c'est ``wrong_website``).
    La sous-classe fournit ``_settled()`` (une demande de profil a trouvé son issue)."""

    site_proven: bool = False

    def _settled(self) -> None:
        raise NotImplementedError

    def check_profile_removed(self, request) -> list:
        kwargs, role = request.cb_kwargs, request.meta.get(ROLE)
        if role == PROOF:
            self.stop("bad_api_url", f"L'API répond 404 sur la liste des profils ({request.url}) "
                                     f": l'URL de l'API ({self.api_config.api_url}) semble "
                                     "fausse ; rien n'a été supprimé.")
        if role is None:
            people_id = self.store.people_id(kwargs["key"])
            if people_id is None:
                self._settled()  # rien pour confirmer : rien ne change
                return []
            url = self.api_config.website_url("people", "profile", people_id)
            return [self.api_request(url, self._profile_still_there, meta={ROLE: CONFIRM},
                                     cb_kwargs={**kwargs, "people_id": people_id},
                                     priority=1, dont_filter=True)]
        if self.site_proven:
            return [self._profile_removed(kwargs)]
        waiting = self.__dict__.setdefault("_profiles_waiting", [])
        waiting.append(kwargs)
        if len(waiting) > 1:
            return []
        url = self.api_config.website_url("people", "profiles", "1")
        return [self.api_request(url, self._profiles_proven, meta={ROLE: PROOF}, priority=2,
                                 dont_filter=True)]

    def _profile_still_there(self, response, **kwargs):
        self.crawler.stats.inc_value("users/recheck_other_email")
        self._settled()
        return []

    def _profiles_proven(self, response):
        page = {p.get("people_id") for p in self.api_data(response, list) if isinstance(p, dict)}
        if not page & self.store.people_ids():
            self.stop("wrong_website", "La liste des profils de ce site ne contient aucun des "
                                       "profils de l'export : ID_SITE_CRISP (ou -a website) et "
                                       "CRISP_DATA_DIR ne vont pas ensemble ; rien n'a été "
                                       "supprimé.")
        self.site_proven = True
        waiting, self.__dict__["_profiles_waiting"] = self.__dict__.get("_profiles_waiting", []), []
        return [self._profile_removed(kwargs) for kwargs in waiting]

    def _profile_removed(self, kwargs: dict):
        self.crawler.signals.send_catch_log(
            profile_removed, people_id=kwargs["people_id"],
            evidence="404 sur la fiche du profil, par son people_id (revérification)")
        # Registre impossible à écrire (l'export s'arrête) : le profil n'est pas retiré.
        stopped = self.crawler.stats.get_value(CAUSE_STAT) is not None
        return ProfileItem(kwargs["email"], kwargs["key"], None, recheck=True,
                           removed=not stopped)

    def end_removal_checks(self, request) -> bool:
        """La preuve n'a pas abouti (échec, arrêt) : rien n'est supprimé, les profils en
        attente trouvent leur issue. Vrai si ``request`` était cette preuve (sans demande de
        profil à elle)."""
        if request.meta.get(ROLE) != PROOF:
            return False
        for _ in self.__dict__.pop("_profiles_waiting", []):
            self._settled()
        return True
