"""Moniteurs du compte entier, après les trois étapes de ``scrapy crawl account``.

Chaque étape a déjà ses moniteurs (extension Spidermon, à sa fermeture). Ici, les mêmes
règles sur les statistiques des étapes additionnées, plus « Compte complet », lancées par
le lanceur de Spidermon (MonitorRunner) une fois la dernière étape finie.
"""

from __future__ import annotations

from spidermon.runners import MonitorRunner

from crispscrape.monitors.suites import AccountMonitors, Outcome


def account_stats(results: list[tuple[str, dict]]) -> dict:
    """Statistiques du compte : les compteurs des étapes additionnés ; la fin est celle de la
    première étape qui ne s'est pas terminée normalement."""
    total: dict = {}
    for _, stats in results:
        for key, value in stats.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and not key.startswith("monitors/"):
                total[key] = total.get(key, 0) + value
    reasons = [stats.get("finish_reason", "?") for _, stats in results]
    total["finish_reason"] = next((r for r in reasons if r != "finished"), "finished")
    return total


def run_account_monitors(account) -> Outcome:
    """Lance la suite du compte ; Outcome vide si aucune étape n'a tourné."""
    crawler = account.last_crawler
    if crawler is None or not account.results \
            or not crawler.settings.getbool("SPIDERMON_ENABLED"):
        return Outcome()
    status = account.status()
    suite = AccountMonitors(crawler=crawler)
    MonitorRunner().run(suite, stats=account_stats(account.results), crawler=crawler,
                        spider=crawler.spider, stats_history=[], job=None,
                        account={"complete": status.complete,
                                 "remaining": status.remaining_text(),
                                 "limited": account.limited})
    return suite.outcome
