"""Règles de surveillance, une petite classe déclarative par règle (à la manière de Spidermon).

Chacune lit les statistiques du crawl (``self.stats``) et un seuil pris dans les réglages
(défauts dans crispscrape/addon.py). Un échec porte une phrase en française, reprise telle
quelle dans le récapitulatif, et ``exit_code`` : le code de sortie qu'il impose (voir
crispscrape/commands/crawl.py) — 1 et 2 répètent ce que dit déjà la fin du crawl, 3 est
propre aux moniteurs.
"""

from __future__ import annotations

import time

from spidermon import monitors
from spidermon.contrib.scrapy.monitors.base import BaseStatMonitor
from spidermon.contrib.scrapy.monitors.monitors import FinishReasonMonitor

from crispscrape.durations import duration
from crispscrape.outcome import ENDINGS, MONITOR_EXIT_CODE


class CrispStatMonitor(BaseStatMonitor):
    """Base : une statistique (absente = 0) comparée à un seuil, message en français.

    ``threshold_setting`` et ``get_threshold`` viennent de BaseStatMonitor de Spidermon ; seule
    la vérification est remplacée, pour dire l'échec en français.
    """

    assert_type = "<="
    exit_code = MONITOR_EXIT_CODE

    def value(self) -> float:
        return float(self.stats.get(self.stat_name, 0) or 0)

    def describe(self, value: float, threshold: float) -> str:
        raise NotImplementedError

    def test_stat_monitor(self):
        threshold = float(self._get_threshold_value())
        value = self.value()
        if not self.ops[self.assert_type](value, threshold):
            self.fail(self.describe(value, threshold))


@monitors.name("Ressources en échec")
class FailedResourcesMonitor(CrispStatMonitor):
    """Ressources (pages, conversations, profils) en échec après tous les réessais."""

    stat_name = "crisp_api/failed"
    threshold_setting = "CRISP_MONITOR_MAX_FAILED"
    threshold_datatype = int
    # Le crawl finit déjà en échec (code 1) quand une ressource échoue.
    exit_code = 1

    def describe(self, value, threshold):
        return (f"{value:.0f} ressource(s) en échec après les réessais (seuil : {threshold:.0f}) ; "
                "elles seront reprises à la prochaine exécution.")


@monitors.name("Ralentissement")
class ThrottledShareMonitor(CrispStatMonitor):
    """Part des appels refusés par la limite de débit de Crisp (429/420)."""

    stat_name = "crisp_throttle/throttled"
    threshold_setting = "CRISP_MONITOR_MAX_THROTTLED_SHARE"

    def value(self) -> float:
        calls = float(self.stats.get("crisp_api/requests", 0) or 0)
        return super().value() / calls if calls else 0.0

    def describe(self, value, threshold):
        return (f"{self.stats.get(self.stat_name, 0)} appel(s) ralenti(s) (429/420) sur "
                f"{self.stats.get('crisp_api/requests', 0)}, soit {value:.0%} (seuil : "
                f"{threshold:.0%}).")


@monitors.name("Objets non valides")
class InvalidItemsMonitor(CrispStatMonitor):
    """Objets reçus qui ne passent pas leur schéma JSON (mis de côté, jamais écrits)."""

    stat_name = "spidermon/validation/items/errors"
    threshold_setting = "CRISP_MONITOR_MAX_INVALID"
    threshold_datatype = int

    def describe(self, value, threshold):
        detail = ", ".join(
            f"{label} : {self.stats.get(f'{self.stat_name}/{kind}', 0)}"
            for kind, label in (("message", "messages"), ("conversation", "conversations"),
                                ("profile", "profils")))
        return (f"{value:.0f} objet(s) non valide(s) mis de côté ({detail} ; seuil : "
                f"{threshold:.0f}) : voir les fichiers *.invalides.jsonl.")


@monitors.name("Fin normale")
class StopMonitor(FinishReasonMonitor):
    """L'exécution finit par une des raisons attendues (SPIDERMON_EXPECTED_FINISH_REASONS)."""

    # Arrêt à reprendre (code 2) ; un échec (config_error…) garde son code 1.
    exit_code = 2

    def test_should_finish_with_expected_reason(self):
        expected = self.crawler.settings.getlist("SPIDERMON_EXPECTED_FINISH_REASONS", ["finished"])
        reason = self.stats.get("finish_reason")
        if reason not in expected:
            known = ENDINGS.get(reason)
            what = known.monitor_text if known and known.monitor_text else f"finie par « {reason} »"
            self.fail(f"exécution {what} ; attendu : {', '.join(expected)} "
                      "(SPIDERMON_EXPECTED_FINISH_REASONS).")

    def said_by_end(self) -> bool:
        """Vrai si la ligne « Fin : » du récapitulatif dit déjà cette fin (une raison connue) :
        l'échec reste compté (statistiques, actions), sans ligne qui le répète."""
        return self.stats.get("finish_reason") in ENDINGS


@monitors.name("Compte complet")
class AccountCompleteMonitor(CrispStatMonitor):
    """Après ``scrapy crawl account`` mené à son terme sans limite ``nb``, le compte est complet.

    Un arrêt par budget ou quota (prévu : un premier export se fait en plusieurs jours) ou une
    limite ``-a nb`` laissent normalement le compte partiel : la règle passe alors, et le
    moniteur « Fin normale » dit l'arrêt. Données : ``account`` (voir monitors/whole_account.py).
    """

    stat_name = "account/left"
    exit_code = MONITOR_EXIT_CODE

    def get_threshold(self) -> float:
        return 0

    def value(self) -> float:
        account = self.data.account
        if self.stats.get("finish_reason") != "finished" or account["limited"]:
            return 0
        return 0 if account["complete"] else 1

    def describe(self, value, threshold):
        return (f"compte incomplet après une exécution menée à son terme : il reste "
                f"{self.data.account['remaining']}.")


@monitors.name("Direct coupé")
class LiveDownMonitor(CrispStatMonitor):
    """La connexion du direct (``scrapy crawl live``) ne manque pas depuis plus de
    CRISP_LIVE_MAX_DOWN_MINUTES minutes (contrôle périodique seulement).

    ``live/down_since`` (rtm.py) : heure depuis laquelle elle manque, None une fois connecté,
    absente hors du direct (la règle passe alors). Le direct, lui, réessaie toujours.
    """

    stat_name = "live/down_since"
    threshold_setting = "CRISP_LIVE_MAX_DOWN_MINUTES"

    def value(self) -> float:
        since = self.stats.get(self.stat_name)
        if not isinstance(since, (int, float)) or isinstance(since, bool):
            return 0.0
        return max(0.0, time.time() - since) / 60

    def describe(self, value, threshold):
        return (f"connexion en direct coupée depuis {duration(value * 60)} (seuil : "
                f"{duration(threshold * 60)}, CRISP_LIVE_MAX_DOWN_MINUTES) ; le direct "
                "réessaie toujours, voir les lignes « Direct interrompu ».")
