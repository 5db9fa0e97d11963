"""``scrapy crawl account`` : conversations → messages → utilisateurs, en une commande.

Un seul processus, donc un seul job scrapyd (une ligne de cron ou un seul ``schedule.json``
tient un compte à jour). Chaque étape est un crawl ordinaire du projet, lancé l'un après
l'autre dans le même processus Scrapy ; elle ne fait que ce qui est nécessaire (liste :
le haut et la suite de l'historique ; messages : seulement les conversations nouvelles,
changées ou récentes ; profils : seulement ceux qui manquent). Une étape qui échoue ou
s'arrête (quota, budget, Ctrl-C) arrête la chaîne avec sa propre raison.

``-a budget=N`` (ou ``CRISP_CALL_BUDGET``) plafonne les appels de TOUTE l'exécution : chaque
étape reçoit ce qu'il reste. ``-a dry_run=1`` dit où en est le compte d'après les fichiers
seuls : aucun appel, aucun identifiant nécessaire.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from twisted.internet.defer import Deferred

from crispscrape.compat import stop_event_loop
from crispscrape.config import data_dir_of
from crispscrape.context import hand_site_locks
from crispscrape.arguments import (
    UNLIMITED, parse_count, parse_flag, parse_optional_count, unknown_argument,
)
from crispscrape.monitors.whole_account import account_stats
from crispscrape.outcome import CAUSE_STAT, finish_code
from crispscrape.summary import api_lines, emit_summary, end_text, files_line, shows_account_state
from crispscrape.status import AccountStatus
from crispscrape.website import SiteLocks, parse_website

logger = logging.getLogger("crispscrape.account")

STEPS = ("conversations", "messages", "users")
ARGUMENTS = ("nb", "budget", "dry_run", "verify", "census", "website")
# Ce que chaque étape a fait, en une ligne du bilan du compte (son récapitulatif complet reste
# dans le journal complet : -L INFO ou LOG_FILE) : (modèle, statistiques qu'il cite).
STEP_LINES = {
    "conversations": "{conversations/exported} conversation(s) nouvelle(s), "
                     "{conversations/updated} mise(s) à jour",
    "messages": "{messages/new} message(s) nouveau(x), {messages/updated} mis à jour, dans "
                "{messages/conversations_done} conversation(s)",
    "users": "{users/added} profil(s) ajouté(s)",
}


class AccountRun:
    """Les arguments de ``scrapy crawl account`` et l'enchaînement des trois crawls."""

    def __init__(self, process, settings, spargs: dict):
        self.process = process
        self.settings = settings
        spargs = dict(spargs)
        # Arguments techniques de scrapyd (_job…) : transmis tels quels à chaque étape.
        self.passthrough = {k: v for k, v in spargs.items() if k.startswith("_")}
        unknown = sorted(k for k in spargs if not k.startswith("_") and k not in ARGUMENTS)
        if unknown:
            raise unknown_argument(unknown[0], "account", ARGUMENTS)
        # -a website=ID : ce site (vérifié ici, avant toute étape), transmis à chaque étape.
        self.website = parse_website(spargs.get("website"))
        self.dry_run = parse_flag(spargs.get("dry_run"), "dry_run")
        # Passé à l'étape des messages : revérifier chaque conversation une fois.
        self.verify = parse_flag(spargs.get("verify"), "verify")
        # Passé à l'étape des conversations : recenser la liste entière (suppressions).
        self.census = parse_flag(spargs.get("census"), "census")
        self.nb = parse_count(spargs.get("nb"), "nb", UNLIMITED)
        # -a nb : un compte partiel est voulu (moniteur « Compte complet », monitors/rules.py).
        self.limited = spargs.get("nb") is not None
        self.budget = parse_optional_count(spargs.get("budget"), "budget") \
            or settings.getint("CRISP_CALL_BUDGET", 0) or None
        self.results: list[tuple[str, dict]] = []
        self.site_locks = SiteLocks()
        # Crawler de la dernière étape lancée : ses réglages servent aux moniteurs du compte.
        self.last_crawler = None

    # --- Bilan ------------------------------------------------------------------------------
    def status(self) -> AccountStatus:
        return AccountStatus.from_settings(data_dir_of(self.settings, website=self.website),
                                           self.settings)

    def status_lines(self, calls: int | None) -> list[str]:
        return [self.website_text(), *self.status().lines(calls)]

    def website_text(self) -> str:
        """Le site du bilan : celui de -a website, sinon celui de l'environnement."""
        if self.website is not None:
            return f"Site Crisp : {self.website} (-a website)."
        return "Site Crisp : celui d'ID_SITE_CRISP."

    @property
    def calls(self) -> int:
        return sum(stats.get("crisp_api/requests", 0) for _, stats in self.results)

    # --- Enchaînement -------------------------------------------------------------------------
    def run(self) -> list[tuple[str, dict]]:
        """Lance les étapes dans le processus Scrapy de la commande ; rend leurs statistiques."""
        loop = asyncio.get_event_loop()
        loop.create_task(self._chain())
        self.process.start(stop_after_crawl=False)
        return self.results

    async def _chain(self) -> None:
        try:
            for name in STEPS:
                left = None if self.budget is None else self.budget - self.calls
                if left is not None and left <= 0:
                    # Budget dépensé entre deux étapes : la suivante ne démarre pas.
                    self.results.append((name, {"finish_reason": "budget"}))
                    break
                kwargs = {**self.passthrough, "_account_step": "1"}
                kwargs["nb"] = self.nb
                if self.website is not None:
                    kwargs["website"] = self.website
                if left is not None:
                    kwargs["budget"] = left
                if name in ("messages", "users") and self.verify:
                    kwargs["verify"] = "1"
                if name == "conversations" and self.census:
                    kwargs["census"] = "1"
                crawler = self.process.create_crawler(name)
                # Un seul jeu de verrous de site pour toute la chaîne (website.SiteLocks).
                hand_site_locks(crawler, self.site_locks)
                self.last_crawler = crawler
                outcome = self.process.crawl(crawler, **kwargs)
                if isinstance(outcome, Deferred):
                    outcome = outcome.asFuture(asyncio.get_event_loop())
                await outcome
                # Récapitulatif de l'étape : au journal complet seulement ; à l'écran, le bilan
                # du compte le résume en une ligne (STEP_LINES).
                emit_summary(crawler, console=False)
                stats = crawler.stats.get_stats() if crawler.stats is not None else {}
                self.results.append((name, stats))
                # Un moniteur en échec (code 3) n'arrête pas la chaîne : seule la fin du crawl.
                if finish_code(stats) != 0:
                    break
        finally:
            stop_event_loop()

    def step_line(self, name: str, stats: dict) -> str:
        reason = stats.get("finish_reason", "?")
        # Ce qu'a fait une étape qui a travaillé ; d'une étape refusée (401…), rien à compter.
        done = STEP_LINES[name].format_map(_Counts(stats)) if shows_account_state(reason) else ""
        end = "" if reason == "finished" else f", fin « {reason} »"
        return f"Étape {name} : {done + ' ; ' if done else ''}" \
               f"{stats.get('crisp_api/requests', 0)} appel(s){end}."

    def summary(self, code: int, monitor_lines: Sequence[str] = ()) -> str:
        """Récapitulatif final : chaque étape en une ligne, les appels, l'état du compte (d'une
        exécution qui a travaillé), les moniteurs du compte, puis la dernière ligne."""
        lines = [self.website_text()]
        lines += [self.step_line(name, stats) for name, stats in self.results]
        totals = _Totals(self.results)
        if any(name == "messages" for name, _ in self.results):
            lines.append(files_line(totals))
        lines += api_lines(totals)
        last = self.results[-1][1] if self.results else {"finish_reason": "start_error"}
        reason = "finished" if code in (0, 3) else last.get("finish_reason", "start_error")
        status = self.status() if shows_account_state(reason) else None
        if status is not None:
            lines += status.lines(self.calls)
        lines += list(monitor_lines)
        lines.append("Fin : " + end_text(reason, 0 if code in (0, 3) else
                                         last.get("crisp_api/failed", 0), status,
                                         last.get(CAUSE_STAT)))
        return "Récapitulatif account :\n  " + "\n  ".join(lines)


class _Counts(dict):
    """Statistiques d'une étape pour STEP_LINES : une absente vaut 0."""

    def __missing__(self, key):
        return 0


class _Totals:
    """Les statistiques des étapes additionnées, lues comme celles d'un crawl (get_value)."""

    def __init__(self, results: list[tuple[str, dict]]):
        self.values = account_stats(results)

    def get_value(self, key: str, default=None):
        return self.values.get(key, default)

    def get_stats(self) -> dict:
        return self.values
