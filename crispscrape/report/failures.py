"""La liste des pièces jointes non obtenues, dans la section « Pièces jointes » du rapport.

Lue dans l'index (``conversations/fichiers.jsonl``, voir report/sources.py), pas dans la
base : la même lecture que ``scrapy status``, donc le même compte. Une ligne par pièce :
conversation, empreinte du message, nom du fichier, raison (en français, avec le code de
l'index) et ce qui l'attend (retentée au prochain lancement, ou abandonnée).
"""

from __future__ import annotations

from html import escape

from crispscrape.storage.file_index import INTERRUPTED, Entry

# Au-delà, la liste s'arrête (une page lisible) et renvoie à l'index et à la table « files ».
MAX_LISTED = 500

REASONS = {
    "timeout": "délai dépassé (CRISP_FILES_TIMEOUT)",
    "trop_gros": "fichier trop gros (CRISP_FILES_MAX_SIZE)",
    "vide": "réponse vide",
    "dns": "nom d'hôte introuvable",
    "connexion_refusee": "connexion refusée",
    "erreur_reseau": "erreur réseau",
    "refuse": "requête refusée (redirection vers un schéma interdit)",
    "schema_refuse": "adresse ni http ni https, jamais demandée",
    "url_invalide": "adresse invalide",
    INTERRUPTED: "téléchargement interrompu par l'arrêt de l'exécution",
}
HTTP = {401: "accès refusé", 403: "accès interdit", 404: "introuvable", 410: "supprimé",
        429: "trop de requêtes"}


def reason_text(status: str) -> str:
    """La raison d'un échec en français : « introuvable (HTTP 404) », « délai dépassé … »."""
    code = status.removeprefix("http_")
    if status.startswith("http_") and code.isdigit():
        number = int(code)
        what = HTTP.get(number, "erreur du serveur" if number >= 500 else "réponse refusée")
        return f"{what} (HTTP {number})"
    return REASONS.get(status, status)


def failed_files(failures: list[tuple[Entry, bool]], max_attempts: int) -> str:
    """Le tableau des pièces non obtenues (``(entrée, abandonnée)``), ou rien s'il n'y en a
    pas."""
    if not failures:
        return ""
    rows = []
    for entry, dropped in failures[:MAX_LISTED]:
        then = (f"abandonnée (essais : {entry.attempts})" if dropped
                else f"retentée au prochain lancement (essais : {entry.attempts} sur "
                     f"{max_attempts})")
        rows.append(f'<tr class="failed-file"><td>{escape(entry.session_id)}</td>'
                    f"<td>{entry.fingerprint}</td><td>{escape(entry.name)}</td>"
                    f"<td>{escape(reason_text(entry.status))} <code>{escape(entry.status)}"
                    f"</code></td><td>{escape(then)}</td></tr>")
    more = len(failures) - MAX_LISTED
    rest = (f'<p class="muted">… et {more} autre(s) : voir conversations/fichiers.jsonl ou la '
            "table files de la base d'analyse.</p>" if more > 0 else "")
    return ("<h3>Pièces jointes non obtenues</h3>"
            f'<p class="muted">{len(failures)} pièce(s) : retentées au prochain lancement, '
            "sauf les abandonnées (refus définitif ou CRISP_FILES_MAX_ATTEMPTS atteint).</p>"
            '<table class="failed-files"><tr><th>Conversation</th><th>Message (empreinte)</th>'
            "<th>Fichier</th><th>Raison</th><th>Suite</th></tr>" + "".join(rows) + "</table>"
            + rest)
