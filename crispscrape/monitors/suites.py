"""Suites de moniteurs et leurs résultats, dits en français dans le journal et les statistiques.

- ``CloseMonitors`` : à la fin de chaque export (SPIDERMON_SPIDER_CLOSE_MONITORS) ;
- ``PeriodicMonitors`` : pendant un long export (SPIDERMON_PERIODIC_MONITORS), seulement les
  règles qui ont un sens en cours de route (dont « Direct coupé ») ;
- ``AccountMonitors`` : le compte entier, après les trois étapes de ``scrapy crawl account``.

Les résultats vont dans les statistiques (``monitors/passed``, ``monitors/failed``,
``monitors/lines``, ``monitors/exit_code``) : le récapitulatif, dit après le vidage des
statistiques (summary.py), et le code de sortie (commands/crawl.py) les y lisent. Les actions
de Spidermon (e-mail, Slack…) viennent des réglages CRISP_MONITOR_FAILED_ACTIONS et
CRISP_MONITOR_FINISHED_ACTIONS, vides par défaut.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from scrapy.utils.misc import load_object
from spidermon import MonitorSuite
from spidermon import settings as spidermon_settings

from crispscrape.outcome import most_severe
from crispscrape.monitors.rules import (
    AccountCompleteMonitor, FailedResourcesMonitor, InvalidItemsMonitor, LiveDownMonitor,
    StopMonitor, ThrottledShareMonitor,
)

logger = logging.getLogger("crispscrape.monitors")

PASSED = (spidermon_settings.MONITOR.STATUS.SUCCESS, spidermon_settings.MONITOR.STATUS.SKIPPED)


@dataclass
class Outcome:
    passed: int = 0
    failed: int = 0
    lines: list[str] = field(default_factory=list)
    exit_code: int = 0


def outcome_of(result) -> Outcome:
    """Bilan d'une exécution de suite : une ligne par moniteur en échec, puis le total."""
    outcome = Outcome()
    for item in result.monitor_results:
        monitor = item.item
        if item.status in PASSED:
            outcome.passed += 1
            continue
        outcome.failed += 1
        if getattr(monitor, "said_by_end", lambda: False)():
            # La dernière ligne du récapitulatif dit déjà cette fin ; la répéter ici en
            # « moniteur en échec » la ferait passer pour un second problème.
            outcome.exit_code = most_severe((outcome.exit_code, monitor.exit_code))
            continue
        reason = item.reason or (item.error or "erreur inattendue").strip().splitlines()[-1]
        outcome.lines.append(f"Moniteur {monitor.monitor_name} : en échec, {reason}")
        outcome.exit_code = most_severe((outcome.exit_code, getattr(monitor, "exit_code", 3)))
    total = f"Moniteurs : {outcome.passed} réussis"
    if outcome.failed and not outcome.lines:
        total += f", {outcome.failed} en échec (la fin de l'exécution, dite ci-dessous)"
    elif outcome.failed:
        total += f", {outcome.failed} en échec"
    outcome.lines.append(total + ".")
    return outcome


class CrispMonitorSuite(MonitorSuite):
    """Base : actions prises dans les réglages, bilan gardé dans ``self.outcome``."""

    def __init__(self, *args, crawler=None, **kwargs):
        super().__init__(*args, crawler=crawler, **kwargs)
        self.outcome = Outcome()
        if crawler is not None:
            for setting, add in (("CRISP_MONITOR_FAILED_ACTIONS", self.add_monitors_failed_actions),
                                 ("CRISP_MONITOR_FINISHED_ACTIONS",
                                  self.add_monitors_finished_actions)):
                add([load_object(path) for path in crawler.settings.getlist(setting)])

    def on_monitors_finished(self, result):
        self.outcome = outcome_of(result)
        self.report(self.outcome)

    def report(self, outcome: Outcome) -> None:
        """Où dire le bilan (journal, statistiques)."""


class CloseMonitors(CrispMonitorSuite):
    """Fin de chaque export."""

    monitors = [FailedResourcesMonitor, ThrottledShareMonitor, StopMonitor, InvalidItemsMonitor]

    def report(self, outcome: Outcome) -> None:
        crawler = self._crawler
        stats = crawler.stats
        stats.set_value("monitors/passed", outcome.passed)
        stats.set_value("monitors/failed", outcome.failed)
        stats.set_value("monitors/lines", outcome.lines)
        stats.set_value("monitors/exit_code", outcome.exit_code)
        if not crawler.settings.getbool("CRISP_SUMMARY_AT_EXIT"):
            # Sinon notre commande crawl les dit dans le récapitulatif, après les statistiques.
            for line in outcome.lines:
                logger.log(logging.WARNING if line.startswith("Moniteur ") else logging.INFO,
                           "%s", line)


class PeriodicMonitors(CrispMonitorSuite):
    """Pendant l'export : ce qui peut déjà alerter avant la fin (pas la raison de fin) ; pour
    le direct, une connexion qui manque trop longtemps (les autres exports passent cette
    règle). Elle n'est pas de la fin : un direct arrêté pendant une coupure finit normalement."""

    monitors = [FailedResourcesMonitor, ThrottledShareMonitor, InvalidItemsMonitor,
                LiveDownMonitor]

    def report(self, outcome: Outcome) -> None:
        stats = self._crawler.stats
        stats.inc_value("monitors/periodic/runs")
        if outcome.failed:
            stats.inc_value("monitors/periodic/failed", outcome.failed)
            for line in outcome.lines[:-1]:
                logger.warning("Contrôle périodique : %s", line)


class AccountMonitors(CrispMonitorSuite):
    """Le compte entier (``scrapy crawl account``), sur les statistiques des trois étapes."""

    monitors = [FailedResourcesMonitor, ThrottledShareMonitor, StopMonitor, InvalidItemsMonitor,
                AccountCompleteMonitor]
