"""Ajoute l'authentification du système exporté aux requêtes vers son API, et à nulle autre.

Pourquoi pas le HttpAuthMiddleware de Scrapy : il lit l'identifiant et la clé dans des
attributs de l'araignée, que la surveillance JSON-RPC ou un journal pourraient exposer.
Ici le secret ne vit que dans ce middleware, et l'en-tête n'est posé qu'au moment de l'envoi,
seulement sur les requêtes dont l'URL commence par celle de l'API (jamais vers un autre hôte).
Les en-têtes viennent du ``Source`` de l'araignée (crispscrape/sources/) : Basic + tier
plugin pour Crisp, Bearer pour Ninja et Wanzo.
"""

from __future__ import annotations

from scrapy.exceptions import NotConfigured

from crispscrape.file_refs import FILE_META
from crispscrape.config import ConfigError
from crispscrape.context import export_context
from crispscrape.sources.crisp import CRISP


def source_of(crawler) -> tuple:
    """(système exporté, -a website) d'après le contexte de l'export ; Crisp par défaut (une
    araignée hors de crispscrape, dans un projet qui n'active que l'add-on)."""
    context = export_context(crawler)
    return (context.source, context.website) if context is not None else (CRISP, None)


def api_prefix(crawler) -> str:
    """Préfixe des URL de l'API de l'araignée de ce crawler ; NotConfigured sans configuration
    (l'araignée refuse alors elle-même de démarrer, avec le message explicatif)."""
    source, website = source_of(crawler)
    try:
        # -a website=ID tient lieu d'ID_SITE_CRISP (l'araignée est créée avant nous).
        return source.config(crawler.settings, website=website).api_url + "/"
    except ConfigError:
        # Sans argument : Scrapy ne dit rien (« Disabled <class …> », en anglais, avant la vraie
        # cause que l'araignée donne en français).
        raise NotConfigured from None


class CrispAuthMiddleware:
    """Pose les en-têtes d'accès sur les requêtes de l'API (et compte ces requêtes)."""

    def __init__(self, api_prefix: str, headers: dict[bytes, bytes], stats):
        self._api_prefix = api_prefix
        self._headers = headers
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        prefix = api_prefix(crawler)
        source, website = source_of(crawler)
        try:
            headers = source.headers(crawler.settings, website=website)
        except ConfigError:
            raise NotConfigured from None  # identifiants absents : l'araignée le dit
        return cls(prefix, headers, crawler.stats)

    def process_request(self, request, spider=None):
        if request.meta.get(FILE_META):
            # Pièce jointe : jamais les identifiants Crisp, quel que soit son hôte (même l'API).
            request.headers.pop(b"Authorization", None)
            return None
        if not request.url.startswith(self._api_prefix):
            return None
        for name, value in self._headers.items():
            request.headers[name] = value
        self.stats.inc_value("crisp_api/requests")
        return None

    def process_response(self, request, response, spider=None):
        if not request.meta.get(FILE_META) and request.url.startswith(self._api_prefix):
            self.stats.inc_value(f"crisp_api/status/{response.status}")
        return response
