"""Les chiffres du rapport (``analyse/rapport.html``), recalculés indépendamment en Python
depuis la vérité du bac à sable et les fichiers de l'export ; l'état de l'export (complet ou
non) tel que le rapport le dit après un arrêt par le budget."""

from __future__ import annotations

import html
import json
import statistics
from collections import Counter
from datetime import datetime, timezone

from crispscrape.report.figures import duration_text
from tests.support.crawling import read_jsonl, run_crawl
from tests.support.reporting import run_report
from tests.support.sandbox_process import start_sandbox


def _utc(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)


def _grouped(value: int) -> str:
    return f"{value:,}".replace(",", "\u202f")


def _p90(values: list[float]) -> float:
    """Quantile 0,9 par interpolation linéaire (celui de quantile_cont)."""
    ordered = sorted(values)
    position = 0.9 * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def _section(page: str, title: str) -> str:
    start = page.index(f"<h2>{title}</h2>")
    end = page.find("<h2>", start + 4)
    return page[start:end if end > 0 else len(page)]


def _box(value: str, name: str) -> str:
    return f"<b>{html.escape(value)}</b>{html.escape(name)}"


def test_report_figures_match_the_truth(report_account):
    """Chaque chiffre écrit dans le rapport, recalculé indépendamment depuis la vérité du bac
    à sable (conversations, messages) et les fichiers de l'export (profils, index des pièces
    jointes) : effectifs, semaines, premier délai de réponse (médiane, 9 sur 10, tendance),
    résolution, jour et heure les plus chargés, messages par opérateur, contacts, fichiers."""
    data_dir, conversations, truth = report_account
    result = run_report(data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    page = (data_dir / "analyse" / "rapport.html").read_text(encoding="utf-8")
    messages = [m for msgs in truth.values() for m in msgs]
    assert _box(_grouped(len(conversations)), "conversations") in page
    assert _box(_grouped(len(messages)), "messages") in page

    # Semaines ISO où une conversation s'ouvre ou un message arrive.
    created = Counter(_utc(c["created_at"]).isocalendar()[:2] for c in conversations)
    weeks = set(created) | {_utc(m["timestamp"]).isocalendar()[:2] for m in messages}
    assert (f"({len(weeks)} semaines ; au plus {_grouped(max(created.values()))} "
            "en une semaine)") in _section(page, "Activité par semaine")

    # Premier délai de réponse : du premier message du visiteur à la première réponse d'un
    # opérateur qui n'est ni une note, ni un événement, ni automatique.
    answered, unanswered, by_week = [], 0, {}
    for msgs in truth.values():
        asked = [m["timestamp"] for m in msgs if m["from"] == "user"]
        if not asked:
            continue
        replies = [m["timestamp"] for m in msgs if m["from"] == "operator"
                   and m["timestamp"] >= min(asked) and m["type"] not in ("note", "event")
                   and not m["automated"]]
        if not replies:
            unanswered += 1
            continue
        delay = (min(replies) - min(asked)) / 1000
        answered.append(delay)
        by_week.setdefault(_utc(min(asked)).isocalendar()[:2], []).append(delay)
    assert len(answered) >= 10 and unanswered >= 1
    response = _section(page, "Premier délai de réponse")
    assert _box(duration_text(statistics.median(answered)), "médiane") in response
    assert _box(duration_text(_p90(answered)), "9 sur 10 en moins de") in response
    assert _box(_grouped(len(answered)), "conversations répondues") in response
    assert _box(_grouped(unanswered), "sans réponse") in response
    trend = [statistics.median(by_week[week]) for week in sorted(by_week)]
    assert len(trend) >= 8, "la tendance n'est écrite qu'à partir de 8 semaines"
    early, late = sorted(trend[:len(trend) // 2]), sorted(trend[len(trend) // 2:])
    assert (f"Tendance : médiane hebdomadaire {duration_text(early[len(early) // 2])} sur la "
            f"première moitié de la période, {duration_text(late[len(late) // 2])} sur la "
            "seconde.") in response

    # Résolution : conversations résolues, du premier au dernier message.
    resolved = [c for c in conversations if c["state"] == "resolved"]
    spans = [(max(m["timestamp"] for m in truth[c["session_id"]])
              - min(m["timestamp"] for m in truth[c["session_id"]])) / 1000
             for c in resolved if truth[c["session_id"]]]
    resolution = _section(page, "Durée de résolution")
    assert _box(duration_text(statistics.median(spans)), "médiane") in resolution
    assert _box(f"{len(resolved)} ({100 * len(resolved) / len(conversations):.0f} %)",
                "résolues") in resolution

    # Jour et heure les plus chargés (messages des visiteurs, UTC).
    days, hours = Counter(), Counter()
    for message in messages:
        if message["from"] == "user":
            days[_utc(message["timestamp"]).weekday()] += 1
            hours[_utc(message["timestamp"]).hour] += 1
    day = max(range(7), key=lambda d: days[d])
    hour = max(range(24), key=lambda h: hours[h])
    names = ("lun.", "mar.", "mer.", "jeu.", "ven.", "sam.", "dim.")
    assert (f"Jour le plus chargé : {names[day]} ({_grouped(days[day])} messages) ; heure la "
            f"plus chargée : {hour} h–{hour + 1} h ({_grouped(hours[hour])}).") in page

    # Messages par opérateur : chaque nom et son nombre, au bout de sa barre.
    operators = Counter(m["user"]["nickname"] for m in messages if m["from"] == "operator")
    assert 1 <= len(operators) <= 15
    section = _section(page, "Messages par opérateur")
    for name, number in operators.items():
        assert f"<title>{html.escape(name)} : {_grouped(number)}</title>" in section

    # Contacts : e-mail présent ; profil exporté pour cet e-mail (casse et espaces ignorés).
    profiles = {p["email"].strip().lower() for p in
                read_jsonl(data_dir / "utilisateurs" / "utilisateurs.jsonl")}
    emails = [c["meta"].get("email", "").strip() for c in conversations]
    with_email = sum("@" in email for email in emails)
    with_profile = sum(email.lower() in profiles for email in emails if email)
    assert 0 < with_profile < with_email < len(conversations)
    contacts = _section(page, "Contacts connus")
    assert (f"Conversations avec un e-mail : {with_email} sur {len(conversations)} "
            f"({100 * with_email / len(conversations):.0f} %)") in contacts
    assert (f"(profil exporté) : {with_profile} "
            f"({100 * with_profile / len(conversations):.0f} %)") in contacts

    # Pièces jointes : l'index réel de l'export.
    index = read_jsonl(data_dir / "conversations" / "fichiers.jsonl")
    kept = [line for line in index if line["status"] == "ok"]
    files = _section(page, "Pièces jointes")
    assert _box(_grouped(len(kept)), "gardées") in files
    assert _box(_grouped(len(index) - len(kept)), "en échec") in files
    assert 0 < len(kept) < len(index)


def test_an_export_stopped_by_its_budget_is_reported_incomplete(tmp_path):
    """Un export arrêté par son budget d'appels : le rapport le dit incomplet, avec le
    nombre exact de conversations dont les messages ne sont pas encore tous sur le disque
    (comparés à la vérité du bac à sable)."""
    sandbox = start_sandbox(seed=3, conversations=30)
    try:
        data_dir = tmp_path / "data"
        stopped = run_crawl("account", data_dir, sandbox.env(), args={"budget": 12}, timeout=300)
        assert stopped.returncode == 2, stopped.log[-3000:]
        truth = {c["session_id"]: sandbox.admin(f"/_admin/truth/messages/{c['session_id']}")
                 for c in sandbox.admin("/_admin/truth/conversations")}
        asked = sandbox.admin("/_admin/stats")["calls_by_session"]
    finally:
        sandbox.stop()
    folder = data_dir / "conversations" / "messages"
    on_disk = {path.stem: read_jsonl(path) for path in folder.glob("*.jsonl")}
    # Faite : tous ses messages sur le disque, et demandée au moins une fois (une
    # conversation sans message aussi : il faut un appel pour le savoir).
    missing = sum(1 for session_id, messages in truth.items()
                  if not asked.get(session_id)
                  or sorted(map(json.dumps, on_disk.get(session_id, [])))
                  != sorted(map(json.dumps, messages)))
    assert 0 < missing < len(truth)
    result = run_report(data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    state = _section((data_dir / "analyse" / "rapport.html").read_text(encoding="utf-8"),
                     "État de l'export")
    assert 'class="state incomplete"' in state
    assert f"Export incomplet : il reste {missing} conversation(s)" in state
    assert "Export complet" not in state
