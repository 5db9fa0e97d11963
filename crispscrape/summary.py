"""La fin d'un export dite en français : dernière ligne du récapitulatif, et où l'écrire.

Jamais « terminé » pour un échec ou un compte partiel : la dernière ligne dit si le compte est
complet, ce qui reste, un arrêt à reprendre (quota, budget, Ctrl-C) ou l'échec et sa cause.
"""

from __future__ import annotations

import logging

from crispscrape.status import AccountStatus

REASON_TEXT = {
    "finished": "export terminé.",
    "quota": "quota atteint, arrêt propre ; relancez plus tard pour reprendre exactement ici.",
    "budget": "budget d'appels atteint, arrêt propre ; la prochaine exécution reprend exactement ici.",
    "shutdown": "arrêt demandé (Ctrl-C / SIGTERM), état sauvegardé ; relancez pour reprendre.",
    "cancelled": "arrêt demandé par JSON-RPC, état sauvegardé ; relancez pour reprendre.",
    "unauthorized": "identifiants refusés.",
    "forbidden": "accès refusé.",
    "not_subscribed": "site non lié au plugin.",
    "config_error": "configuration incomplète.",
    "bad_argument": "argument invalide.",
    "input_error": "fichier d'entrée ou d'état inutilisable.",
    "output_error": "écriture impossible dans le répertoire de données.",
    "bad_api_url": "URL de l'API fausse (voir plus haut).",
    "unreachable": "API Crisp injoignable (voir plus haut).",
}


def configured_level(settings) -> int:
    """Niveau du journal demandé (LOG_LEVEL, -L), INFO s'il est illisible."""
    level = logging.getLevelName(str(settings.get("LOG_LEVEL") or "INFO").upper())
    return level if isinstance(level, int) else logging.INFO


def summary_level(settings) -> int:
    """Niveau du récapitulatif : INFO, ou le niveau du journal s'il est plus haut (-L WARNING),
    pour qu'un journal réduit au silence garde toujours le récapitulatif français."""
    return max(logging.INFO, configured_level(settings))


def emit_summary(crawler) -> None:
    """Dit le récapitulatif mis de côté par l'araignée (CRISP_SUMMARY_AT_EXIT)."""
    text = getattr(crawler, "crisp_summary", None)
    if text:
        # Les moniteurs passent après le récapitulatif de l'araignée (spider_closed) : leurs
        # lignes, prises dans les statistiques, s'insèrent avant la dernière ligne (« Fin : »).
        lines = crawler.stats.get_value("monitors/lines") if crawler.stats is not None else None
        if lines:
            head, _, last = text.rpartition("\n  ")
            text = "\n  ".join([head, *lines, last])
        logging.getLogger(crawler.spidercls.name).log(summary_level(crawler.settings), "%s", text)


def api_lines(stats) -> list[str]:
    """Appels à l'API, ralentissements, réessais et échecs de l'exécution (tout export)."""
    lines = [f"Appels à l'API : {stats.get_value('crisp_api/requests', 0)}, "
             f"dont ralentis (429/420) : {stats.get_value('crisp_throttle/throttled', 0)}, "
             f"attente due au ralentissement : "
             f"{stats.get_value('crisp_throttle/wait_seconds', 0)} s."]
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
    return lines


def files_line(stats) -> str:
    """Ligne des pièces jointes (crispscrape/pipelines/attachments.py) : statistiques files/."""
    value = stats.get_value
    return (f"Pièces jointes : {value('files/downloaded', 0)} téléchargée(s), "
            f"{value('files/failed', 0)} en échec (retentées aux prochaines exécutions, "
            f"{value('files/abandoned', 0)} abandonnée(s)), "
            f"{value('files/already', 0)} déjà là.")


def end_text(reason: str, failed: int, status: AccountStatus | None) -> str:
    """Dernière ligne du récapitulatif : jamais « terminé » pour un échec ou un compte partiel."""
    if reason == "finished" and failed:
        return (f"échec : {failed} ressource(s) en échec après les réessais (voir plus haut) ; "
                "elles seront reprises à la prochaine exécution.")
    if reason != "finished":
        text = REASON_TEXT.get(reason, reason)
        if reason in RESUMABLE and status is not None and not status.complete:
            text += f" Il reste {status.remaining_text()}."
        return text
    if status is None or status.complete:
        return "compte complet et à jour." if status is not None else "export terminé."
    return (f"exécution terminée ; il reste {status.remaining_text()} : la prochaine exécution "
            "continue.")


RESUMABLE = {"quota", "budget", "shutdown", "cancelled"}
