"""Ajoute l'authentification Crisp aux requêtes vers l'API.

Pourquoi pas le HttpAuthMiddleware de Scrapy : il lit l'identifiant et la clé dans des
attributs de l'araignée, que la surveillance JSON-RPC ou un journal pourraient exposer.
Ici le secret ne vit que dans ce middleware, et l'en-tête n'est posé qu'au moment de l'envoi.
"""

from __future__ import annotations

from scrapy.exceptions import NotConfigured

from crispscrape.config import ConfigError, CrispConfig, authorization_header


class CrispAuthMiddleware:
    """Pose Authorization (Basic), X-Crisp-Tier et Content-Type sur les requêtes de l'API."""

    def __init__(self, api_url: str, authorization: bytes, stats):
        self._api_prefix = api_url + "/"
        self._authorization = authorization
        self.stats = stats

    @classmethod
    def from_crawler(cls, crawler):
        try:
            # -a website=ID tient lieu d'ID_SITE_CRISP (l'araignée est créée avant nous).
            website = getattr(crawler.spider, "website", None)
            config = CrispConfig.from_settings(crawler.settings, website=website)
            authorization = authorization_header(crawler.settings, website=website)
        except ConfigError:
            # L'araignée refuse elle-même de démarrer, avec le message explicatif.
            raise NotConfigured("identifiants Crisp absents") from None
        return cls(config.api_url, authorization, crawler.stats)

    def process_request(self, request, spider=None):
        if not request.url.startswith(self._api_prefix):
            return None
        request.headers[b"Authorization"] = self._authorization
        request.headers[b"X-Crisp-Tier"] = b"plugin"
        request.headers[b"Content-Type"] = b"application/json"
        self.stats.inc_value("crisp_api/requests")
        return None

    def process_response(self, request, response, spider=None):
        if request.url.startswith(self._api_prefix):
            self.stats.inc_value(f"crisp_api/status/{response.status}")
        return response
