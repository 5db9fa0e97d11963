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

from crispscrape.items import REMOVED, MessageBatch
from crispscrape.model import session_id_of
from crispscrape.paging.selection import listed
from crispscrape.signals import conversation_removed

# Rôle d'une requête de ce module dans request.meta.
ROLE = "crisp_removal"
CONFIRM, PROOF = "confirmer", "preuve"


class RemovalCheck:
    """À placer avant ``ConversationEnds`` : reprend ses fins « introuvable », « échec »,
    « interrompue » pour les requêtes de confirmation."""

    crawler: Any
    api_config: Any
    api_request: Any
    api_data: Any
    stop: Any
    store: Any
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


class ChatRemovalCheck:
    """Ninja, Wanzo : la liste entière est relevée à chaque exécution, c'est un recensement.
    Une conversation connue qui n'y est plus est confirmée par un appel sur ses messages ;
    404 = supprimée (la liste, demandée la première, a prouvé l'URL de l'API). Une
    conversation listée dont les messages répondent 404 n'est PAS supprimée (la liste la
    montre) : introuvable, comme avant. À placer avant ``ConversationEnds``."""

    crawler: Any
    api_config: Any
    api_request: Any
    source: Any
    logger: Any

    def unlisted_requests(self, known: set[str], listed: set[str], removed: set[str],
                          fetch_of) -> list:
        """Une requête de confirmation par conversation connue absente de la liste entière
        (``fetch_of(id)`` : sa première page, comme pour l'exporter)."""
        missing = sorted(known - listed - removed)
        self.crawler.stats.set_value("census/unlisted", len(missing))
        if too_many_unlisted(len(missing), len(known), self.logger):
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


def too_many_unlisted(missing: int, known: int, logger) -> bool:
    """Plus de la moitié des conversations connues absentes de la liste entière : ce n'est
    pas un ménage ordinaire, mais une liste qui n'est pas la bonne (autre site, page vide par
    erreur). Rien n'est vérifié ni supprimé (chaque vérification coûterait un appel)."""
    if missing <= max(10, known // 2):
        return False
    logger.warning("Attention : %d des %d conversations connues manquent à la liste : ce "
                   "n'est pas un ménage ordinaire (autre site ? liste incomplète ?). Rien n'est "
                   "vérifié ni supprimé ; vérifiez ID_SITE_CRISP et CRISP_DATA_DIR, ou supprimez "
                   "ces conversations avec « scrapy forget --session … ».", missing, known)
    return True
