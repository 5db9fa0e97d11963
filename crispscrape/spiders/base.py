"""Araignée de base de crispscrape : tout ce que les trois exports partagent avec l'API Crisp.

- arguments (chaînes acceptées, comme les passe scrapyd), configuration vérifiée avant tout
  appel ; premier appel envoyé seul : refusé (401/403), on s'arrête après lui ;
- enveloppe lue, réponses inexploitables réessayées ; 401/403/site non lié -> arrêt ;
  404 -> ``resource_missing`` ; le reste, après les réessais -> ressource en échec, comptée
  et signalée, jamais marquée comme faite ; récapitulatif final en français.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import Any

import scrapy
from scrapy import signals
from scrapy.downloadermiddlewares.retry import get_retry_request
from scrapy.exceptions import CloseSpider
from scrapy.spidermiddlewares.httperror import HttpError

from crispscrape.api import InvalidResponse, QuotaExceeded
from crispscrape.compat import aiter_any, spawn
from crispscrape import signals as crisp_signals
from crispscrape.config import ConfigError
from crispscrape.context import ExportContext, publish_context
from crispscrape.console import Repeats
from crispscrape.sources.base import Source
from crispscrape.sources.crisp import CRISP
from crispscrape.middlewares.retry import backoff
from crispscrape.arguments import (
    ArgumentError, parse_count, parse_flag, parse_optional_count, unknown_argument,
)
from crispscrape.status import AccountStatus
from crispscrape.outcome import CAUSE_STAT
from crispscrape.summary import say_summary, shows_account_state, spider_summary
from crispscrape.storage.files import StorageError
from crispscrape.website import parse_website, website_line

class ExportSpider(scrapy.Spider):
    """Base des araignées de tous les systèmes exportés (Crisp par défaut, voir ``source``) ;
    les sous-classes fournissent ``export_requests()``."""

    default_nb = 50
    # Le système exporté : configuration, accès, lecture des réponses (crispscrape/sources/).
    source: Source = CRISP
    # Posée par from_crawler (None si la configuration est refusée).
    config: Any = None
    budget: int | None = None
    # Ce que l'export dit aux composants (crispscrape/context.py), posé par from_crawler, et
    # les échecs déjà dits (console.Repeats).
    context: ExportContext
    _repeats: Repeats
    # Progression (extensions/progress.py) : statistique qui compte le travail fait, son unité.
    progress_key: str | None = None
    progress_unit = "éléments"
    # Route du premier appel toujours présente (la liste) : un 404 y dit l'URL d'API fausse.
    route_always_exists = False
    flags: tuple[str, ...] = ()  # arguments -a booléens propres à l'export (outre reset)

    def __init__(self, *args, nb=None, reset=None, budget=None, website=None, **kwargs):
        self.startup_error: tuple[str, str] | None = None
        # -a website=ID : ce site plutôt qu'ID_SITE_CRISP, fichiers sous {CRISP_DATA_DIR}/{ID}.
        self.website: str | None = None
        flags = {name: kwargs.pop(name, None) for name in self.flags}
        # scrapyd ajoute _job (et d'autres, tous préfixés « _ ») : sans effet ici. Tout autre
        # argument inconnu est refusé avant le moindre appel (une faute de frappe comme
        # -a nbr=5 ne doit pas passer pour un export de 50 conversations).
        unknown = sorted(name for name in kwargs if not name.startswith("_"))
        super().__init__(*args, **{k: v for k, v in kwargs.items() if k.startswith("_")})
        # Étape de « scrapy crawl account » : l'état du compte est dit une fois, à la fin.
        self._account_step = parse_flag(kwargs.get("_account_step"), "_account_step")
        try:
            if unknown:
                raise unknown_argument(unknown[0], self.name,
                                       ["nb", "reset", "budget", "website", *self.flags])
            self.nb = parse_count(nb, "nb", self.default_nb)
            self.reset = parse_flag(reset, "reset")
            # Appels permis à cette exécution (None : le réglage CRISP_CALL_BUDGET, ou illimité).
            self.budget = parse_optional_count(budget, "budget")
            self.website = parse_website(website)
            for name, value in flags.items():
                setattr(self, name, parse_flag(value, name))
        except ArgumentError as exc:
            self.nb, self.reset, self.budget, self.website = self.default_nb, False, None, None
            for name in self.flags:
                setattr(self, name, False)
            self.startup_error = ("bad_argument", str(exc))
        self._first_answer = asyncio.Event()

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        spider._repeats = Repeats(crawler.settings)
        try:
            if spider.startup_error is not None:  # argument refusé : ni configuration, ni répertoire
                raise ConfigError(spider.startup_error[1])
            spider.config = cls.source.config(crawler.settings, website=spider.website)
            spider.check_settings()
        except ConfigError as exc:
            spider.config = None
            spider.startup_error = spider.startup_error or ("config_error", str(exc))
        spider.context = ExportContext(
            cls.name, cls.source, spider.config, spider.website, spider.reset, spider.nb,
            spider.budget, refused=spider.startup_error is not None,
            account_step=spider._account_step,
            progress_key=cls.progress_key, progress_unit=cls.progress_unit)
        publish_context(crawler, spider.context)
        # Ce que les composants ont à lui dire passe par ces signaux (crispscrape/signals.py).
        for handler, signal in ((spider.refuse_start, crisp_signals.start_refused),
                                (spider.abort, crisp_signals.export_stopped),
                                (spider.conversation_finished, crisp_signals.conversation_closed)):
            crawler.signals.connect(handler, signal=signal)
        return spider

    # --- Démarrage ----------------------------------------------------------------
    async def start(self) -> AsyncIterator[Any]:
        # Pré-vol commun aux exports : arguments, configuration, puis les fichiers (ouverts
        # par le pipeline qui les possède, ou par prepare() pour les exports qui n'en ont pas).
        if self.startup_error:
            self.stop(*self.startup_error)
        try:
            self.prepare()
        except (ArgumentError, StorageError, OSError, ValueError) as exc:
            self.startup_error = ("input_error", str(exc))
            self.stop(*self.startup_error)
        self.context.progress_expected = self.expected_work()
        first = True
        engine = self.crawler.engine
        async for output in aiter_any(self.export_requests()):
            if isinstance(output, scrapy.Request):
                # Départ paresseux (« start-requests-lazy » de Scrapy) : une requête n'est
                # produite que lorsque le téléchargeur a de la place ; la mémoire ne grandit
                # pas avec le nombre de conversations à faire.
                while engine.needs_backout() and engine.running:
                    await self.crawler.signals.wait_for(signals.scheduler_empty)
            yield output
            if first and isinstance(output, scrapy.Request):
                # Le premier appel part seul : s'il est refusé (401/403), aucun autre ne suit.
                first = False
                await self._first_answer.wait()

    def refuse_start(self, reason: str, message: str) -> None:
        """Signal start_refused : un composant n'a pas pu ouvrir ce qu'il possède ; le départ
        est refusé (aucun appel), avec ce message, au moment où start() commence."""
        if self.startup_error is None:
            self.startup_error = (reason, message)
        self.context.refused = True

    @property
    def api_config(self) -> Any:
        """La configuration, une fois le pré-vol passé (aucune requête ne part avant)."""
        assert self.config is not None, "configuration absente"
        return self.config

    def check_settings(self) -> None:
        """Réglages propres à l'export, vérifiés avant tout fichier et tout appel, dans
        from_crawler : AVANT les défauts de l'add-on (Scrapy les pose après la création de
        l'araignée), donc seules les valeurs données. ConfigError (en français) si inutilisables."""

    def expected_work(self) -> int | None:
        """Travail à faire dans cette exécution, d'après les fichiers (None : inconnu)."""
        return None

    def prepare(self) -> None:
        """Lit les fichiers d'entrée et l'état ; lève une erreur explicite si c'est impossible."""

    def export_requests(self) -> Iterable[Any] | AsyncIterator[Any]:
        """Requêtes de départ (et éventuels items) : à fournir par la sous-classe."""
        raise NotImplementedError

    def stop(self, reason: str, message: str):
        """Arrête le crawl avec une raison de fin et un message en français."""
        self._say_cause(message)
        raise CloseSpider(reason)

    def abort(self, reason: str, message: str) -> None:
        """Comme stop(), mais depuis un gestionnaire de signal (export_stopped…), où
        CloseSpider est sans effet."""
        self._say_cause(message)
        spawn(self.crawler.engine.close_spider_async(reason=reason))

    def _say_cause(self, message: str) -> None:
        """La cause de l'arrêt : dite tout de suite, et gardée (la première) pour que la
        dernière ligne du récapitulatif la répète."""
        self.logger.error(message)
        if self.crawler.stats.get_value(CAUSE_STAT) is None:
            self.crawler.stats.set_value(CAUSE_STAT, message)

    # --- Requêtes et réponses -----------------------------------------------------
    def api_request(self, url: str, callback, **kwargs) -> scrapy.Request:
        """Requête vers l'API, avec le traitement d'erreurs commun."""
        return scrapy.Request(url, callback=callback, errback=self.on_error, **kwargs)

    def api_data(self, response, expected_type: type | tuple[type, ...]) -> Any:
        """``data`` d'une réponse réussie, ou InvalidResponse (à passer à retry_or_fail)."""
        self._first_answer.set()
        return self.source.parse(response, expected_type)

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
            reason = self.source.error_reason(response)
            fatal = self.source.fatal_message(response.status, reason, self.config)
            if fatal is not None:
                self.stop(*fatal)
            if response.status == 404 and not self._first_answer.is_set() \
                    and self.route_always_exists:
                self.stop("bad_api_url", f"L'API répond 404 sur {request.url} : l'URL de l'API "
                                         f"({self.api_config.api_url}) semble fausse. "
                                         + self.source.url_hint)
            self._first_answer.set()
            if response.status == 404:
                self.crawler.stats.inc_value("crisp_api/not_found")
                return self.resource_missing(request)
            return self._failed(request, f"HTTP {response.status} {reason}".strip())
        if not self._first_answer.is_set():
            # Aucune réponse encore, même après les réessais : l'API n'est pas joignable.
            # abort() et non stop() : une exception levée ici ferait journaliser l'erreur de
            # téléchargement avec sa trace Python par Scrapy.
            self.abort("unreachable", f"API {self.source.label} injoignable à l'adresse "
                                      f"{self.api_config.api_url} ({failure.getErrorMessage()}). "
                                      f"Vérifiez {self.source.url_name} et la connexion réseau ; "
                                      "aucun fichier n'a été modifié.")
            return ()
        self._first_answer.set()
        return self._failed(request, f"{failure.type.__name__} : {failure.getErrorMessage()}")

    def _failed(self, request, why: str) -> Iterable[Any]:
        self.crawler.stats.inc_value("crisp_api/failed")
        # Les 3 premiers échecs d'une même cause, un à un ; les autres comptés au bilan.
        say = self.logger.error if self._repeats.first(why) else self.logger.debug
        say("Échec définitif sur %s après les réessais : %s. La ressource n'est pas marquée "
            "comme faite ; elle sera reprise à la prochaine exécution.", request.url, why)
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

    def conversation_finished(self, done) -> None:
        """Signal conversation_closed : conversation refermée par le magasin des messages."""

    # --- Fin ------------------------------------------------------------------------
    def closed(self, reason: str) -> None:
        head = [website_line(self.config)] if getattr(self.config, "website_id", None) else []
        head += list(self.summary_lines()) if self.startup_error is None else []
        status = (self.account_status() if self.startup_error is None
                  and shows_account_state(reason) else None)
        text = spider_summary(self.name, self.crawler.stats, reason, head, status,
                              with_status=not self._account_step)
        if self.settings.getbool("CRISP_SUMMARY_AT_EXIT"):
            # Notre commande crawl le dira après le vidage des statistiques de Scrapy.
            self.context.summary = text
        else:
            say_summary(self.logger, self.settings, text, console=not self._account_step)

    def account_status(self, profiles: bool = True) -> AccountStatus | None:
        """État du compte d'après les fichiers (None si le répertoire est inconnu)."""
        if self.config is None or self.source is not CRISP:
            return None
        try:
            return AccountStatus.from_settings(self.config.data_dir, self.settings, profiles=profiles,
                                               messages_state=self.messages_state())
        except OSError:
            return None

    def summary_lines(self) -> Iterable[str]:
        return ()

    def messages_state(self) -> dict[str, Any] | None:
        """L'état des messages déjà en mémoire, s'il est celui du fichier (sinon None : relu)."""
        return None

