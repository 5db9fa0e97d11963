"""Les fins d'un export, chacune une seule fois : texte, code de sortie, reprise, gravité.

Le code de sortie (commands/crawl.py), la dernière ligne du récapitulatif (summary.py,
account) et le moniteur « Fin normale » (monitors/rules.py) lisent tous cette table : une
raison de fin nouvelle s'ajoute ici, et nulle part ailleurs.

Codes de sortie : 0 = terminé ; 1 = échec ; 2 = arrêt prévu, à reprendre (quota, budget,
Ctrl-C, JSON-RPC) ; 3 = un moniteur en échec alors que l'export s'est terminé. Le plus grave
l'emporte : 1, puis 2, puis 3 (``most_severe``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Du plus grave au moins grave : échec, arrêt à reprendre, moniteur en échec, tout va bien.
# Le code 2 reste celui d'un arrêt (« relancez ») même si un moniteur échoue aussi : les
# scripts qui relancent sur 2 continuent de le faire ; 3 ne vient que d'un export terminé.
SEVERITY = (1, 2, 3, 0)
MONITOR_EXIT_CODE = 3
# Statistique où une araignée range la cause d'un échec (la phrase de sa première ligne
# d'erreur), pour que la dernière ligne la répète.
CAUSE_STAT = "end/cause"
PLANNED = "arrêt prévu, reprise au prochain lancement"


def most_severe(codes: Iterable[int]) -> int:
    return min(codes, key=SEVERITY.index, default=0)


@dataclass(frozen=True)
class Ending:
    """Une raison de fin : ce que dit la ligne « Fin : », et ce qu'elle vaut."""

    reason: str
    text: str
    exit_code: int
    # Ce que dit le moniteur « Fin normale » d'une exécution ainsi arrêtée.
    monitor_text: str = ""
    # La cause (première ligne d'erreur) est répétée après le texte : elle seule dit quoi
    # corriger (une URL fausse n'est pas un identifiant manquant).
    repeats_cause: bool = False

    @property
    def resumable(self) -> bool:
        """Arrêt prévu : la prochaine exécution reprend exactement ici."""
        return self.exit_code == 2


ENDINGS = {ending.reason: ending for ending in (
    Ending("finished", "export terminé.", 0),
    # live_stopped : la fin normale de ``scrapy crawl live``, arrêté de l'extérieur (Scrapy
    # nomme cette fin l'une de LIVE_STOPPED_FROM ; extensions/live_ending.py la renomme).
    Ending("live_stopped", "direct arrêté (Ctrl-C, SIGTERM ou annulation), journal écrit "
           "jusqu'au dernier événement reçu.", 0),
    Ending("quota", f"quota atteint, {PLANNED} (relancez plus tard : il reprend exactement ici).",
           2, "arrêtée par le quota de l'API Crisp (423 ou attente de ralentissement trop longue)"),
    Ending("budget", f"budget d'appels atteint, {PLANNED}, exactement ici.", 2,
           "arrêtée par le budget d'appels (-a budget / CRISP_CALL_BUDGET)"),
    Ending("shutdown", f"arrêt demandé (Ctrl-C / SIGTERM), état sauvegardé : {PLANNED}.", 2,
           "arrêtée par Ctrl-C / SIGTERM"),
    # "cancelled" : fermeture demandée par JSON-RPC sans raison précise.
    Ending("cancelled", f"arrêt demandé par JSON-RPC, état sauvegardé : {PLANNED}.", 2,
           "arrêtée par JSON-RPC"),
    Ending("unauthorized", "identifiants Crisp refusés (HTTP 401).", 1),
    Ending("forbidden", "accès refusé par Crisp (HTTP 403).", 1),
    Ending("not_subscribed", "site non lié au jeton (HTTP 404 not_subscribed).", 1),
    Ending("config_error", "configuration refusée, aucun appel", 1, repeats_cause=True),
    Ending("bad_argument", "argument invalide, aucun appel", 1, repeats_cause=True),
    Ending("input_error", "fichier d'entrée ou d'état inutilisable", 1, repeats_cause=True),
    Ending("output_error", "écriture impossible dans le répertoire de données", 1,
           repeats_cause=True),
    Ending("bad_api_url", "URL de l'API fausse", 1, repeats_cause=True),
    Ending("wrong_website", "l'export n'est pas celui de ce site, rien n'a été supprimé", 1,
           repeats_cause=True),
    Ending("unreachable", "API injoignable", 1, repeats_cause=True),
)}


# Fins données par Scrapy à un direct arrêté de l'extérieur (Ctrl-C, SIGTERM, annulation).
LIVE_STOPPED_FROM = ("shutdown", "cancelled", "finished")


def ending_of(reason: str | None) -> Ending:
    """La fin connue, ou une fin inconnue comptée comme un échec (code 1)."""
    known = ENDINGS.get(reason or "")
    return known if known is not None else Ending(reason or "?", f"fin « {reason} ».", 1)


def finish_code(stats: Mapping) -> int:
    """Code de sortie d'après la fin du crawl seule (sans les moniteurs)."""
    ending = ending_of(stats.get("finish_reason"))
    if ending.exit_code == 0 and stats.get("crisp_api/failed"):
        return 1
    return ending.exit_code


def exit_code(stats: Mapping) -> int:
    """Code de sortie d'après les statistiques finales : la fin du crawl et les moniteurs
    (``monitors/exit_code``, posé par crispscrape/monitors/suites.py), le plus grave."""
    return most_severe((finish_code(stats), stats.get("monitors/exit_code", 0)))


def first_sentence(text: str) -> str:
    """La première phrase d'un message (la cause ; la suite dit quoi faire, déjà lue)."""
    head, dot, _ = text.partition(". ")
    return head + "." if dot else text.rstrip()


def failure_text(reason: str, cause: str | None) -> str:
    """Texte de fin d'un échec ou d'un arrêt, avec la cause quand elle seule l'explique."""
    ending = ending_of(reason)
    if ending.repeats_cause:
        return f"{ending.text} : {first_sentence(cause)}" if cause else f"{ending.text} (voir plus haut)."
    return ending.text
