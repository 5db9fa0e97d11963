"""Fins anormales d'une conversation (échec, arrêt, 404), communes aux exports de messages.

Crisp (``messages.py``) et les systèmes « en avant » (``chat.py``) traduisent de la même
façon une requête perdue en un lot de fin (``MessageBatch`` sans messages) : le magasin
referme alors la conversation comme il se doit (incomplète, ou introuvable).
"""

from __future__ import annotations

from typing import Any


class ConversationEnds:
    """À placer avant ``ExportSpider`` ; la sous-classe fournit ``_unfinished(request, why)``."""

    crawler: Any

    def _unfinished(self, request, why: str) -> list:
        raise NotImplementedError

    def resource_failed(self, request, why):
        return self._unfinished(request, "échec")

    def resource_interrupted(self, request):
        return self._unfinished(request, "interrompue")

    def resource_missing(self, request):
        self.crawler.stats.inc_value("messages/conversations_not_found")
        return self._unfinished(request, "introuvable")
