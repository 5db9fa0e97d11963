"""L'extension Spidermon, avec un lanceur qui laisse le bilan aux suites (en français).

Le lanceur de l'extension de Spidermon (SpiderMonitorRunner) écrit chaque moniteur dans le
journal, en anglais, et les échecs en ERROR avec leur trace. Ici, le lanceur de base de
Spidermon (MonitorRunner) : les suites de crispscrape/monitors/suites.py disent le bilan en
français, dans les statistiques et le récapitulatif. Tout le reste (SPIDERMON_ENABLED,
SPIDERMON_SPIDER_CLOSE_MONITORS, SPIDERMON_PERIODIC_MONITORS…) est celui de Spidermon.

Ordre à la fermeture (signal spider_closed, dans l'ordre des branchements) : le récapitulatif
de l'araignée (Spider.closed), CoreStats (finish_reason), cette extension (priorité 600 dans
l'add-on), puis StatsFile (900) : le fichier de statistiques contient donc les résultats.
"""

from __future__ import annotations

from spidermon.contrib.scrapy.extensions import Spidermon
from spidermon.runners import MonitorRunner


class CrispSpidermon(Spidermon):
    # Spidermon 1.27 : _run_suites est le seul endroit où le lanceur est choisi.
    def _run_suites(self, spider, suites):
        data = self._generate_data_for_spider(spider)
        for suite in suites:
            MonitorRunner().run(suite, **data)
