"""Araignée de base de crispscrape : tout ce que les trois exports partagent avec l'API Crisp.

- arguments ``nb`` et ``reset`` (chaînes acceptées, comme les passe scrapyd) ;
- configuration (identifiants, URL, répertoire de données) vérifiée avant tout appel ;
- premier appel envoyé seul : s'il est refusé (401/403), on s'arrête après un seul appel ;
- lecture de l'enveloppe, réessai des réponses inexploitables, classement des erreurs :
  401/403/site non lié -> arrêt immédiat ; 404 -> ressource ignorée ; le reste, après les
  réessais -> ressource en échec, comptée et signalée, jamais marquée comme faite ;
- récapitulatif final en français.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

import scrapy
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import CloseSpider
from scrapy.spidermiddlewares.httperror import HttpError

from crispscrape.api import InvalidResponse, QuotaExceeded, error_reason, parse_envelope
from crispscrape.config import ConfigError, CrispConfig
from crispscrape.middlewares.retry import backoff
from crispscrape.storage import StorageError

TRUE_WORDS = {"1", "true", "yes", "oui", "on", "vrai"}
FALSE_WORDS = {"0", "false", "no", "non", "off", "faux", ""}

# Raisons de fin qui signifient un échec (code de sortie 1) ou un arrêt à reprendre (2) :
# voir crispscrape/commands/crawl.py.
FATAL_REASONS = {
    401: ("unauthorized", "Identifiants Crisp refusés (HTTP 401) : vérifiez CRISP_IDENTIFIER_PROD "
                          "et CRISP_KEY_PROD."),
    403: ("forbidden", "Accès refusé par Crisp (HTTP 403 {reason}) : le jeton doit être un jeton "
                       "de plugin lié à ce site (en-tête X-Crisp-Tier: plugin)."),
}
NOT_SUBSCRIBED = ("not_subscribed", "Le site {website} n'est pas lié à ce plugin Crisp "
                                    "(HTTP 404 not_subscribed) : vérifiez ID_SITE_CRISP.")


class ArgumentError(ValueError):
    """Argument de ligne de commande invalide (message en français)."""


def parse_count(value: Any, name: str, default: int) -> int:
    """Entier strictement positif, donné en nombre ou en chaîne (scrapyd passe des chaînes)."""
    if value is None:
        return default
    text = str(value).strip()
    if not text.isdigit() or int(text) < 1:
        raise ArgumentError(f"Argument {name}={value!r} invalide : un nombre entier positif "
                            f"est attendu (par exemple -a {name}={default}).")
    return int(text)


def parse_flag(value: Any, name: str) -> bool:
    """Booléen : 1/true/yes/oui ou 0/false/no/non."""
    if value is None or isinstance(value, bool):
        return bool(value)
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ArgumentError(f"Argument {name}={value!r} invalide : 1/true/yes/oui ou 0/false/no/non "
                        "est attendu.")


class CrispSpider(scrapy.Spider):
    """Base des araignées Crisp ; les sous-classes fournissent ``crisp_requests()``."""

    default_nb = 50

    def __init__(self, *args, nb=None, reset=None, **kwargs):
        # scrapyd ajoute _job (et d'autres) : Spider les range en attributs, sans effet ici.
        super().__init__(*args, **kwargs)
        self.startup_error: tuple[str, str] | None = None
        try:
            self.nb = parse_count(nb, "nb", self.default_nb)
            self.reset = parse_flag(reset, "reset")
        except ArgumentError as exc:
            self.nb, self.reset = self.default_nb, False
            self.startup_error = ("bad_argument", str(exc))
        self._first_answer = asyncio.Event()

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        try:
            spider.config = CrispConfig.from_settings(crawler.settings)
        except ConfigError as exc:
            spider.config = None
            spider.startup_error = spider.startup_error or ("config_error", str(exc))
        return spider

    # --- Démarrage ----------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        if self.startup_error:
            self.stop(*self.startup_error)
        try:
            self.prepare()
        except (ArgumentError, StorageError, OSError, ValueError) as exc:
            self.startup_error = ("input_error", str(exc))
            self.stop(*self.startup_error)
        first = True
        async for output in _aiter(self.crisp_requests()):
            yield output
            if first and isinstance(output, scrapy.Request):
                # Le premier appel part seul : s'il est refusé (401/403), aucun autre ne suit.
                first = False
                await self._first_answer.wait()

    def prepare(self) -> None:
        """Lit les fichiers d'entrée et l'état ; lève une erreur explicite si c'est impossible."""

    def crisp_requests(self) -> Iterable[Any] | AsyncIterator[Any]:
        """Requêtes de départ (et éventuels items) : à fournir par la sous-classe."""
        raise NotImplementedError

    def stop(self, reason: str, message: str):
        """Arrête le crawl avec une raison de fin et un message en français."""
        self.logger.error(message)
        raise CloseSpider(reason)

    def abort(self, reason: str, message: str) -> None:
        """Comme stop(), mais depuis un gestionnaire de signal, où CloseSpider est sans effet."""
        self.logger.error(message)
        asyncio.ensure_future(self.crawler.engine.close_spider_async(reason=reason))

    # --- Requêtes et réponses -----------------------------------------------------
    def api_request(self, url: str, callback, **kwargs) -> scrapy.Request:
        """Requête vers l'API, avec le traitement d'erreurs commun."""
        return scrapy.Request(url, callback=callback, errback=self.on_error, **kwargs)

    def api_data(self, response, expected_type: type | tuple[type, ...]) -> Any:
        """``data`` d'une réponse réussie, ou InvalidResponse (à passer à retry_or_fail)."""
        self._first_answer.set()
        return parse_envelope(response, expected_type)

    def retry_or_fail(self, request: scrapy.Request, exc: InvalidResponse) -> Iterable[Any]:
        """Réessaie une réponse inexploitable avec recul ; après les réessais, la ressource échoue."""
        retry = get_retry_request(request, spider=self, reason=exc.reason)
        if retry is not None:
            retry.meta["crisp_backoff"] = backoff(
                self.settings.getfloat("CRISP_RETRY_BASE_DELAY"), retry.meta["retry_times"],
                self.settings.getfloat("CRISP_THROTTLE_MAX_DELAY"))
            return [retry]
        return self._failed(request, f"réponse inexploitable ({exc})")

    def on_error(self, failure) -> Iterable[Any]:
        request = failure.request
        if failure.check(QuotaExceeded):
            # Le crawl se ferme pour quota : la ressource reste à faire, sans être en échec.
            return self.resource_interrupted(request)
        if failure.check(HttpError):
            response = failure.value.response
            reason = error_reason(response) or ""
            if response.status in FATAL_REASONS:
                code, message = FATAL_REASONS[response.status]
                self.stop(code, message.format(reason=reason))
            if response.status == 404 and reason == "not_subscribed":
                code, message = NOT_SUBSCRIBED
                self.stop(code, message.format(website=self.config.website_id))
            self._first_answer.set()
            if response.status == 404:
                self.crawler.stats.inc_value("crisp_api/not_found")
                return self.resource_missing(request)
            return self._failed(request, f"HTTP {response.status} {reason}".strip())
        self._first_answer.set()
        return self._failed(request, f"{failure.type.__name__} : {failure.getErrorMessage()}")

    def _failed(self, request, why: str) -> Iterable[Any]:
        self.crawler.stats.inc_value("crisp_api/failed")
        self.logger.error("Échec définitif sur %s après les réessais : %s. La ressource n'est pas "
                          "marquée comme faite ; elle sera reprise à la prochaine exécution.",
                          request.url, why)
        return self.resource_failed(request, why)

    # --- Points d'extension des sous-classes -------------------------------------
    def resource_missing(self, request) -> Iterable[Any]:
        """404 sur une ressource : ignorée (comptée), le crawl continue."""
        return ()

    def resource_failed(self, request, why: str) -> Iterable[Any]:
        """Échec définitif d'une ressource (déjà compté et signalé)."""
        return ()

    def resource_interrupted(self, request) -> Iterable[Any]:
        """Requête abandonnée parce que le crawl s'arrête (quota)."""
        return ()

    # --- Fin ------------------------------------------------------------------------
    def closed(self, reason: str) -> None:
        stats = self.crawler.stats
        lines = list(self.summary_lines()) if self.startup_error is None else []
        lines.append(f"Appels à l'API : {stats.get_value('crisp_api/requests', 0)}, "
                     f"dont ralentis (429/420) : {stats.get_value('crisp_throttle/throttled', 0)}, "
                     f"attente due au ralentissement : "
                     f"{stats.get_value('crisp_throttle/wait_seconds', 0)} s.")
        retries = stats.get_value("retry/count", 0)
        if retries:
            details = ", ".join(f"{key.rsplit('/', 1)[1]} : {value}"
                                for key, value in sorted(stats.get_stats().items())
                                if key.startswith("retry/reason_count/"))
            lines.append(f"Réessais après erreur passagère : {retries} ({details}).")
        failed = stats.get_value("crisp_api/failed", 0)
        if failed:
            lines.append(f"Ressources en échec après réessais : {failed} (reprises à la "
                         "prochaine exécution).")
        lines.append(f"Fin : {REASON_TEXT.get(reason, reason)}")
        self.logger.info("Récapitulatif %s :\n  %s", self.name, "\n  ".join(lines))

    def summary_lines(self) -> Iterable[str]:
        return ()


REASON_TEXT = {
    "finished": "export terminé.",
    "quota": "quota atteint, arrêt propre ; relancez plus tard pour reprendre exactement ici.",
    "shutdown": "arrêt demandé (Ctrl-C / SIGTERM), état sauvegardé ; relancez pour reprendre.",
    "cancelled": "arrêt demandé par JSON-RPC, état sauvegardé ; relancez pour reprendre.",
    "unauthorized": "identifiants refusés.",
    "forbidden": "accès refusé.",
    "not_subscribed": "site non lié au plugin.",
    "config_error": "configuration incomplète.",
    "bad_argument": "argument invalide.",
    "input_error": "fichier d'entrée ou d'état inutilisable.",
    "output_error": "écriture impossible dans le répertoire de données.",
}


async def _aiter(outputs):
    """Parcourt un itérable synchrone ou asynchrone."""
    if hasattr(outputs, "__aiter__"):
        async for output in outputs:
            yield output
    else:
        for output in outputs:
            yield output
