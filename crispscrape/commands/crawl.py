"""La commande ``scrapy crawl`` de crispscrape : celle de Scrapy, plus deux garanties.

1. Un identifiant passé en réglage (-s CRISP_KEY_PROD=…) est retiré des réglages et placé
   dans l'environnement du processus avant la création du crawler : Scrapy journalise les
   réglages modifiés au démarrage, le secret n'y apparaîtra donc jamais.
2. Le code de sortie dit comment l'export s'est terminé (Scrapy renvoie 0 même quand
   l'araignée s'arrête sur une erreur) :
   0 = terminé ; 1 = échec (configuration, argument, fichier d'entrée, identifiants refusés,
   ressources en échec) ; 2 = interrompu proprement (quota, Ctrl-C, JSON-RPC) : relancer
   pour reprendre ; 3 = un moniteur Spidermon est en échec (objets non valides, trop de
   ralentissement, compte incomplet : voir docs/monitors.md) alors que l'export s'est
   terminé. Le plus grave l'emporte : 1, puis 2, puis 3.
"""

from __future__ import annotations

import logging
import os

from scrapy import signals
from scrapy.commands.crawl import Command as ScrapyCrawlCommand
from scrapy.extensions.feedexport import FeedExporter

from crispscrape.commands.account import AccountRun
from crispscrape.config import SECRET_NAMES, ConfigError, check_numbers, check_tier
from crispscrape.arguments import ArgumentError
from crispscrape.monitors.whole_account import run_account_monitors
from crispscrape.outcome import exit_code, failure_text, most_severe
from crispscrape.console import install_console, wants_console
from crispscrape.summary import configured_level, emit_summary, say_summary

logger = logging.getLogger(__name__)

# Journaux dont le niveau suit LOG_LEVEL (voir apply_log_level).
LEVELLED_LOGGERS = ("", "scrapy", "crispscrape")


def apply_log_level(settings) -> None:
    """Scrapy laisse le journal racine au niveau NOTSET et filtre dans son gestionnaire :
    chaque message DEBUG (une réponse, un item) est fabriqué puis jeté, des milliers de fois
    par export. Le niveau suit donc LOG_LEVEL, posé aussi sur les journaux « scrapy » et
    « crispscrape » : chaque nouveau crawler remet le journal racine à NOTSET
    (install_scrapy_root_handler), eux ne sont pas touchés. En mode console, les lignes de
    progression et les récapitulatifs (INFO) passent toujours (voir crispscrape/console.py)."""
    level = configured_level(settings)
    if settings.getbool("CRISP_CONSOLE"):
        level = min(level, logging.INFO)
    for name in LEVELLED_LOGGERS:
        logging.getLogger(name).setLevel(level)
    if settings.getbool("CRISP_CONSOLE"):
        install_console(settings)


class Command(ScrapyCrawlCommand):
    def process_options(self, args, opts):
        super().process_options(args, opts)
        # Le récapitulatif français est dit à la toute fin, après le vidage des statistiques
        # de Scrapy (voir emit_summary), au lieu d'être enfoui dessous.
        self.settings.set("CRISP_SUMMARY_AT_EXIT", True, priority="cmdline")
        # Mode console (par défaut, sans -L INFO/DEBUG ni LOG_FILE) : le gestionnaire de
        # Scrapy est coupé avant la création du processus, le nôtre posé dans run().
        if wants_console(self.settings):
            self.settings.set("CRISP_CONSOLE", True, priority="cmdline")
            self.settings.set("LOG_ENABLED", False, priority="cmdline")
        for name in SECRET_NAMES:
            value = self.settings.get(name)
            if value:
                os.environ[name] = str(value)
                # Priorité maximale : personne ne peut le remettre dans les réglages.
                self.settings.set(name, None, priority=100)

    def run(self, args, opts):
        assert self.settings is not None and self.crawler_process is not None
        apply_log_level(self.settings)
        try:
            # Avant tout crawl : un réglage numérique illisible donne une phrase en français,
            # pas une trace Python d'un composant qui le lit.
            check_numbers(self.settings)
            check_tier(self.settings)
            check_jsonrpc(self.settings)
        except ConfigError as exc:
            logger.error("%s", exc)
            self.exitcode = 1
            return
        if args == ["account"]:
            self.exitcode = run_account(self.crawler_process, self.settings, opts.spargs)
            return
        if len(args) != 1:
            super().run(args, opts)  # message d'usage de Scrapy, inchangé
            return
        # Les étapes de la commande de Scrapy, par son interface publique
        # (create_crawler, crawl, start) : on garde ainsi le crawler, dont les
        # statistiques finales donnent le code de sortie.
        crawler = self.crawler_process.create_crawler(args[0])
        crawler.signals.connect(_warn_if_feeds_ignored, signal=signals.engine_started)
        self.crawler_process.crawl(crawler, **opts.spargs)
        self.crawler_process.start()
        emit_summary(crawler)
        if self.crawler_process.bootstrap_failed:
            self.exitcode = 1
        elif crawler.stats is not None:
            self.exitcode = exit_code(crawler.stats.get_stats())


def _warn_if_feeds_ignored(sender, **kwargs) -> None:
    """FEEDS (-o, ou scrapyd avec items_dir) sans FeedExporter : rien n'y sera écrit.

    Le projet désactive FeedExporter (les données vont dans CRISP_DATA_DIR) ; la commande de
    Scrapy le signale, la nôtre aussi.
    """
    if sender.settings.getdict("FEEDS") and sender.get_extension(FeedExporter) is None:
        logger.warning("FEEDS est ignoré (FeedExporter désactivé) : les données vont dans "
                       "CRISP_DATA_DIR, et nulle part ailleurs.")


def run_account(process, settings, spargs: dict) -> int:
    """``scrapy crawl account`` : les trois exports à la suite (voir crispscrape/commands/account.py)."""
    try:
        account = AccountRun(process, settings, spargs)
    except ArgumentError as exc:
        logger.error("%s", exc)
        say_summary(logger, settings, "Récapitulatif account :\n  Fin : "
                    + failure_text("bad_argument", str(exc)))
        return 1
    if account.dry_run:
        # Aucun crawl, aucun appel, aucun identifiant : les fichiers seuls.
        say_summary(logger, settings, "Récapitulatif account (dry_run, aucun appel) :\n  "
                    + "\n  ".join(account.status_lines(None)))
        return 0
    account.run()
    if not account.results:
        say_summary(logger, settings, account.summary(1))
        return 1
    monitors = run_account_monitors(account)
    code = most_severe([exit_code(stats) for _, stats in account.results] + [monitors.exit_code])
    say_summary(logger, settings, account.summary(code, monitors.lines))
    return code


def check_jsonrpc(settings) -> None:
    """JSON-RPC activé sur une adresse joignable sans jeton : refusé ici, en une phrase, avant
    que l'extension ne le refuse avec une trace Python au milieu du démarrage."""
    if not settings.getbool("JSONRPC_ENABLED"):
        return
    from crispscrape.jsonrpc.security import AccessPolicy, JsonRpcConfigurationError
    try:
        AccessPolicy(str(settings.get("JSONRPC_HOST") or "127.0.0.1"), settings.get("JSONRPC_TOKEN"))
    except JsonRpcConfigurationError as exc:
        raise ConfigError(str(exc)) from None
