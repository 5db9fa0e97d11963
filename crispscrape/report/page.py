"""La page ``analyse/rapport.html`` : un seul fichier, en français, qui s'ouvre hors ligne.

Styles dans la page, graphiques en SVG en ligne (charts.py), aucun script ni ressource
externe (pas de CDN, pas de police, pas d'image à charger). Tout texte venu des données
(noms d'opérateurs, chemins) passe par ``html.escape``.
"""

from __future__ import annotations

from datetime import datetime
from html import escape

from crispscrape.report import charts
from crispscrape.report.failures import failed_files
from crispscrape.report.figures import Figures, duration_text, percent

DAYS = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")

STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 780px; color: #1d2733;
       line-height: 1.45; padding: 0 1rem; }
h1 { font-size: 1.6rem; margin-bottom: .2rem; } h2 { font-size: 1.15rem; margin-top: 2rem;
     border-bottom: 1px solid #d5dbe3; padding-bottom: .2rem; }
.muted { color: #5b6776; font-size: .9rem; }
.numbers { display: flex; flex-wrap: wrap; gap: .6rem; margin: .6rem 0; }
.number { background: #f2f5f9; border-radius: 6px; padding: .4rem .8rem; min-width: 7rem; }
.number b { display: block; font-size: 1.25rem; }
.state { padding: .6rem .9rem; border-radius: 6px; }
.complete { background: #e6f4ea; } .incomplete { background: #fff4e0; }
.pending { background: #fdf6d8; } code { font-size: .85em; }
svg.chart { max-width: 100%; height: auto; display: block; margin: .4rem 0; }
table { border-collapse: collapse; font-size: .9rem; } td, th { padding: .15rem .6rem;
        text-align: right; } td:first-child, th:first-child { text-align: left; }
"""


def _number(value: int | float) -> str:
    return f"{value:,.0f}".replace(",", "\u202f")


def _boxes(items: list[tuple[str, str]]) -> str:
    return '<div class="numbers">' + "".join(
        f'<div class="number"><b>{escape(value)}</b>{escape(name)}</div>'
        for name, value in items) + "</div>"


def render(figures: Figures, state, skipped_text: str, generated_at: datetime) -> str:
    """Le document HTML complet."""
    parts = [_header(figures, generated_at), _state(state, skipped_text), _activity(figures),
             _response(figures), _resolution(figures), _hours(figures), _operators(figures),
             _contacts(figures), _files(figures, state)]
    return ("<!DOCTYPE html>\n<html lang=\"fr\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            "<title>Rapport de l'export Crisp</title><style>" + STYLE + "</style></head><body>"
            + "\n".join(parts) + "</body></html>\n")


def _header(figures: Figures, generated_at: datetime) -> str:
    period = (f"du {figures.first_message} au {figures.last_message}"
              if figures.first_message else "aucun message")
    return ("<h1>Rapport de l'export Crisp</h1>"
            f'<p class="muted">Construit le {generated_at:%d/%m/%Y à %H:%M} UTC, d\'après les '
            f"fichiers de l'export seuls ; messages {escape(period)}. Heures et jours en UTC.</p>"
            + _boxes([("conversations", _number(figures.conversations)),
                      ("messages", _number(figures.messages)),
                      ("profils", _number(figures.people))]))


def _state(state, skipped_text: str) -> str:
    when = f"{state.as_of:%d/%m/%Y à %H:%M} UTC" if state.as_of else "date inconnue"
    # Pièces jointes en échec : la conclusion de ``scrapy status`` (« Compte complet, 9 pièces
    # jointes en échec (retentées au prochain lancement) »), liste dans « Pièces jointes ».
    files = f" ; {state.files}" if state.files else ""
    verdict = ("Export complet et à jour" if state.complete and not state.files
               else f"Compte complet, {state.files}" if state.complete
               else f"Export incomplet : il reste {state.remaining}{files}")
    kind = "incomplete" if not state.complete else "pending" if state.files else "complete"
    lines = "".join(f"<li>{escape(line.strip())}</li>" for line in state.lines[1:])
    return ("<h2>État de l'export</h2>"
            f'<p class="state {kind}"><b>'
            f"{escape(verdict)}</b>, d'après la dernière écriture de l'export le "
            f"{escape(when)}.</p><ul class=\"muted\">{lines}</ul>"
            f'<p class="muted">Base d\'analyse : {escape(skipped_text)}.</p>')


def _activity(figures: Figures) -> str:
    weeks = figures.weeks
    return ("<h2>Activité par semaine</h2>"
            f"<p>Conversations ouvertes par semaine ({len(weeks)} semaines ; au plus "
            f"{_number(max((w[1] for w in weeks), default=0))} en une semaine) :</p>"
            + charts.bars([(w[0], w[1]) for w in weeks], "Conversations par semaine")
            + f"<p>Messages par semaine (au plus {_number(max((w[2] for w in weeks), default=0))}"
            " en une semaine) :</p>"
            + charts.bars([(w[0], w[2]) for w in weeks], "Messages par semaine", charts.SECOND))


def _response(figures: Figures) -> str:
    durations = figures.first_response
    trend = figures.response_trend
    change = ""
    if len(trend) >= 8:
        early = sorted(value for _, value in trend[:len(trend) // 2])
        late = sorted(value for _, value in trend[len(trend) // 2:])
        before, after = early[len(early) // 2], late[len(late) // 2]
        change = (f"<p>Tendance : médiane hebdomadaire {duration_text(before)} sur la première "
                  f"moitié de la période, {duration_text(after)} sur la seconde.</p>")
    return ("<h2>Premier délai de réponse</h2>"
            "<p class=\"muted\">Du premier message du visiteur à la première réponse d'un "
            "opérateur (ni note interne, ni événement, ni message automatique).</p>"
            + _boxes([("médiane", duration_text(durations.median)),
                      ("9 sur 10 en moins de", duration_text(durations.p90)),
                      ("conversations répondues", _number(durations.count)),
                      ("sans réponse", _number(figures.unanswered))])
            + change + "<p>Médiane par semaine :</p>"
            + charts.line(trend, "Médiane du premier délai de réponse par semaine",
                          duration_text))


def _resolution(figures: Figures) -> str:
    durations = figures.resolution
    return ("<h2>Durée de résolution</h2>"
            "<p class=\"muted\">Conversations résolues : du premier au dernier message "
            "(Crisp n'exporte pas l'heure de résolution elle-même).</p>"
            + _boxes([("médiane", duration_text(durations.median)),
                      ("9 sur 10 en moins de", duration_text(durations.p90)),
                      ("résolues", f"{_number(figures.resolved)} "
                                   f"({percent(figures.resolved, figures.conversations)})")])
            + charts.bars(figures.resolution_buckets, "Conversations résolues par durée",
                          height=180))


def _hours(figures: Figures) -> str:
    totals = [sum(row) for row in figures.heatmap]
    busiest = max(range(7), key=lambda day: totals[day]) if any(totals) else None
    hours = [sum(row[hour] for row in figures.heatmap) for hour in range(24)]
    peak = max(range(24), key=lambda hour: hours[hour]) if any(hours) else None
    summary = (f"<p>Jour le plus chargé : {DAYS[busiest]} ({_number(totals[busiest])} messages) ; "
               f"heure la plus chargée : {peak} h–{peak + 1} h ({_number(hours[peak])}).</p>"
               if busiest is not None and peak is not None else "<p>Aucun message de visiteur.</p>")
    return ("<h2>Heures les plus chargées</h2>"
            "<p class=\"muted\">Messages des visiteurs, par jour de la semaine et heure "
            "(UTC).</p>" + summary
            + charts.heatmap(figures.heatmap, DAYS, "Messages des visiteurs par jour et heure"))


def _operators(figures: Figures) -> str:
    rest = (f"<p class=\"muted\">Autres opérateurs : {_number(figures.other_operators)} "
            "messages.</p>" if figures.other_operators else "")
    return ("<h2>Messages par opérateur</h2>"
            + (charts.hbars(figures.operators, "Messages par opérateur") if figures.operators
               else "<p>Aucun message d'opérateur.</p>") + rest)


def _contacts(figures: Figures) -> str:
    total = figures.conversations
    return ("<h2>Contacts connus</h2>"
            f"<p>Conversations avec un e-mail : {_number(figures.with_email)} sur "
            f"{_number(total)} ({percent(figures.with_email, total)})</p>"
            + charts.share(figures.with_email, total, "Conversations avec un e-mail")
            + f"<p>Conversations dont la personne a une fiche (profil exporté) : "
              f"{_number(figures.with_profile)} ({percent(figures.with_profile, total)})</p>"
            + charts.share(figures.with_profile, total, "Conversations avec un profil"))


def _files(figures: Figures, state) -> str:
    if not figures.files_indexed:
        return ("<h2>Pièces jointes</h2><p>Pas d'index des pièces jointes "
                "(conversations/fichiers.jsonl) : aucun fichier téléchargé.</p>")
    size = f"{figures.files_bytes / 1e6:.1f} Mo".replace(".", ",")
    return ("<h2>Pièces jointes</h2>"
            + _boxes([("gardées", _number(figures.files_ok)),
                      ("en échec", _number(figures.files_failed)), ("taille gardée", size)])
            + charts.share(figures.files_ok, figures.files_ok + figures.files_failed,
                           "Pièces jointes gardées")
            + failed_files(state.failures, state.max_attempts))
