"""La fin d'un export dite en français : dernière ligne du récapitulatif, et où l'écrire.

Jamais « terminé » pour un échec ou un compte partiel : la dernière ligne dit si le compte est
complet, ce qui reste, un arrêt à reprendre (quota, budget, Ctrl-C) ou l'échec et sa cause.
Aussi les lignes d'un export de messages (``messages_summary``, tous systèmes).
"""

from __future__ import annotations

import logging

from crispscrape.console import console_extra
from crispscrape.context import export_context
from crispscrape.outcome import CAUSE_STAT, ending_of, failure_text
from crispscrape.status import AccountStatus


def configured_level(settings) -> int:
    """Niveau du journal demandé (LOG_LEVEL, -L), INFO s'il est illisible."""
    level = logging.getLevelName(str(settings.get("LOG_LEVEL") or "INFO").upper())
    return level if isinstance(level, int) else logging.INFO


def summary_level(settings) -> int:
    """Niveau du récapitulatif : INFO en mode console (jamais « WARNING » devant un bilan) ;
    sinon INFO, ou le niveau du journal s'il est plus haut (-L WARNING avec un LOG_FILE),
    pour qu'un journal réduit au silence garde toujours le récapitulatif français."""
    if settings.getbool("CRISP_CONSOLE"):
        return logging.INFO
    return max(logging.INFO, configured_level(settings))


def say_summary(logger, settings, text: str, console: bool = True) -> None:
    """Écrit un récapitulatif ; ``console=False`` : seulement dans le journal complet (-L INFO,
    LOG_FILE), pas à l'écran (une étape de ``account``, résumée par le bilan du compte)."""
    logger.log(summary_level(settings), "%s", text, extra=console_extra() if console else None)


def emit_summary(crawler, console: bool = True) -> None:
    """Dit le récapitulatif mis de côté par l'araignée (CRISP_SUMMARY_AT_EXIT)."""
    context = export_context(crawler)
    text = context.summary if context is not None else None
    if text:
        # Les moniteurs passent après le récapitulatif de l'araignée (spider_closed) : leurs
        # lignes, prises dans les statistiques, s'insèrent avant la dernière ligne (« Fin : »).
        lines = crawler.stats.get_value("monitors/lines") if crawler.stats is not None else None
        if lines:
            head, _, last = text.rpartition("\n  ")
            text = "\n  ".join([head, *lines, last])
        say_summary(logging.getLogger(crawler.spidercls.name), crawler.settings, text, console)


def spider_summary(name: str, stats, reason: str, head: list[str],
                   status: AccountStatus | None, with_status: bool) -> str:
    """Le récapitulatif d'un export : ses lignes propres (``head``), les appels, l'état du
    compte (pas pour une étape d'``account``, qui le dit une fois), puis « Fin : »."""
    lines = head + api_lines(stats)
    if status is not None and with_status:
        lines.extend(status.lines(stats.get_value("crisp_api/requests", 0)))
    lines.append("Fin : " + end_text(reason, stats.get_value("crisp_api/failed", 0), status,
                                     stats.get_value(CAUSE_STAT)))
    return f"Récapitulatif {name} :\n  " + "\n  ".join(lines)


def api_lines(stats) -> list[str]:
    """Appels à l'API, ralentissements, réessais et échecs de l'exécution (tout export)."""
    lines = [f"Appels à l'API : {stats.get_value('crisp_api/requests', 0)}, "
             f"dont ralentis (429/420) : {stats.get_value('crisp_throttle/throttled', 0)}, "
             f"attente due au ralentissement : "
             f"{stats.get_value('crisp_throttle/wait_seconds', 0)} s."]
    retries = stats.get_value("retry/count", 0)
    if retries:
        # Raison : un code HTTP, ou le nom court d'une exception (sans son module).
        details = ", ".join(f"{key.rsplit('/', 1)[1].rsplit('.', 1)[-1]} : {value}"
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
    # Les échecs comptés par raison, en une ligne (seuls les 3 premiers de chaque raison sont
    # dits un à un : 300 pièces d'un hôte injoignable ne font pas 300 lignes).
    reasons = ", ".join(f"{key.rsplit('/', 1)[1]} : {count}"
                        for key, count in sorted(stats.get_stats().items())
                        if key.startswith("files/status/"))
    return (f"Pièces jointes : {value('files/downloaded', 0)} téléchargée(s), "
            f"{value('files/failed', 0)} en échec ({reasons + ' ; ' if reasons else ''}"
            f"retentées aux prochaines exécutions, {value('files/abandoned', 0)} "
            f"abandonnée(s)), {value('files/already', 0)} déjà là.")


def shows_account_state(reason: str) -> bool:
    """L'état du compte n'est dit que d'une exécution qui a travaillé (finie ou arrêtée comme
    prévu) : après un 401, il parlerait d'un compte que l'exécution n'a pas vu."""
    return ending_of(reason).exit_code != 1


def end_text(reason: str, failed: int, status: AccountStatus | None,
             cause: str | None = None) -> str:
    """Dernière ligne du récapitulatif : jamais « terminé » pour un échec ou un compte partiel ;
    pour un échec, la cause (``cause`` : la première ligne d'erreur) répétée."""
    if reason == "finished" and failed:
        return (f"échec : {failed} ressource(s) en échec après les réessais (voir plus haut) ; "
                "elles seront reprises à la prochaine exécution.")
    if reason != "finished":
        text = failure_text(reason, cause)
        if ending_of(reason).resumable and status is not None and not status.complete:
            text += f" Il reste {status.remaining_text()}."
        return text
    if status is None:
        return "export terminé."
    if status.complete:
        # Des pièces jointes en échec ne rendent pas le compte incomplet (ni le code non nul),
        # mais « à jour » serait faux : elles sont dites, avec leur reprise.
        return status.verdict() + "."
    return (f"exécution terminée ; il reste {status.remaining_text()} : la prochaine exécution "
            "continue.")


def messages_summary(stats, store) -> list[str]:
    """Lignes du récapitulatif d'un export de messages (tous systèmes)."""
    ignored = sum(stats.get_value(key, 0) for key in (
        "messages/ignored_invalid_lines", "messages/ignored_unsafe_ids",
        "messages/ignored_duplicate_lines", "messages/conversations_not_found"))
    stats.set_value("messages/conversations_ignored", ignored)
    files = store.count_files()
    stats.set_value("messages/files", files)
    return [
        f"Conversations traitées : {stats.get_value('messages/conversations_done', 0)} "
        f"(dont incomplètes, à reprendre : "
        f"{stats.get_value('messages/conversations_incomplete', 0)}), ignorées : {ignored}.",
        f"Messages : {stats.get_value('messages/new', 0)} nouveaux, "
        f"{stats.get_value('messages/updated', 0)} mis à jour, "
        f"{stats.get_value('messages/ignored_known', 0)} ignorés (déjà connus).",
        f"Fichiers .jsonl de conversation dans {store.directory} : {files}.",
        *removed_lines(stats)]


def removed_lines(stats) -> list[str]:
    """Les conversations supprimées chez Crisp trouvées dans ce crawl (pipelines/removals.py)."""
    removed = stats.get_value("removed/conversations", 0)
    if not removed:
        return []
    erased = stats.get_value("removed/erased")
    fate = ("effacées de l'export (CRISP_REMOVED=erase)" if erased is not None
            else "gardées ici (CRISP_REMOVED=keep)" if stats.get_value("removed/kept")
            else "notées dans suppressions.jsonl")
    return [f"Supprimées chez Crisp (404 confirmé) : {removed} conversation(s), {fate} ; "
            "plus jamais demandées."]
