"""Une conversation supprimée chez Crisp se prouve par Crisp lui-même, jamais par une absence.

Un 404 sur les messages d'une conversation connue ne suffit pas (une URL d'API fausse répond
404 partout) : UN appel le confirme, ``GET /website/{site}/conversation/{session_id}``.

- il répond 200 : la conversation existe, le 404 des messages reste inexpliqué ; elle est
  « introuvable » comme avant (redemandée tant qu'elle est listée) ;
- il répond 404 : supprimée — si l'API a déjà répondu normalement dans cette exécution. Sinon
  (première réponse du crawl), la route de la liste est essayée d'abord, une fois : un 404
  y dit que l'URL de l'API est fausse (arrêt ``bad_api_url``, rien n'est supprimé) ;
- toute autre issue (401/403, 5xx, délai, quota) : rien n'est supprimé ; la conversation
  finit en échec ou interrompue, comme tout autre appel perdu.

Une suppression prouvée part par le signal ``conversation_removed`` (registre, effacement :
pipelines/removals.py) et referme la conversation (``MessageBatch`` de fin « supprimée »).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from crispscrape.items import REMOVED, MessageBatch
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
    # Vrai dès qu'une réponse de l'API a été lue normalement (spiders/base.py, api_data).
    api_answered: bool
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
        if self.api_answered:
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
        self.api_data(response, list)
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
