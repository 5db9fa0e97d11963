"""Journée simulée du banc du direct (``python -m bench.live``, section 5), à échelle réduite.

Cible de l'issue 22 : sur un compte de 20 000 conversations dont 2 % actives par jour, les
appels d'une journée avec ``live`` (relectures de réglage + réconciliation) ≤ 1/7 de ceux
d'``account`` avec sa fenêtre de revérification de 7 jours. Mesuré ici en vrai, à l'échelle
de ``CONVERSATIONS`` conversations (2 % = 20 actives) :

1. sept jours passés : chaque jour, 2 % des conversations reçoivent 1 à 6 messages datés de
   ce jour-là en temps RÉEL (option ``timestamp`` de l'administration : le temps simulé du
   bac à sable est en 2025, la fenêtre d'``account`` ne couvrirait rien) ;
2. export ``account`` de cet état, copié : une copie pour ``live``, une pour ``account`` ;
3. ``live`` démarre (réglage 3 s, réconciliation toutes les ``RECONCILE_SECONDS``) ; une
   fois sa réconciliation de départ finie, compteurs à zéro ; « aujourd'hui » : 2 % des
   conversations reçoivent chacune 1 à 6 messages en rafale (un toutes les 0,3 s, donc un
   seul réglage par conversation) ; on attend le réglage ET une réconciliation périodique
   (sans coupure : sans fenêtre), puis on compte les appels et on arrête ``live`` ;
4. ``account`` avec CRISP_MESSAGES_LOOKBACK_DAYS=7 sur l'autre copie : ses appels.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path

from bench import harness
from bench.live_process import LiveProcess, differing, quiet, run_account, settled
from bench.report import Row, Section, number, ratio, verdict

CONVERSATIONS = 1000
ACTIVE_SHARE = 0.02
DAY_MS = 24 * 3600 * 1000
RECONCILE_SECONDS = 90.0
SPACING_SECONDS = 0.3
RECONCILE_LINE = "Direct : réconciliation,"


def _add(sandbox, session_id: str, count: int, timestamp: int | None = None) -> None:
    payload = {"count": count} if timestamp is None else {"count": count, "timestamp": timestamp}
    sandbox.admin(f"/_admin/conversations/{session_id}/messages", method="POST", json=payload)


def _reconciliations(live: LiveProcess) -> int:
    return live.log_path.read_text(encoding="utf-8", errors="replace").count(RECONCILE_LINE)


def _calls(sandbox) -> dict:
    stats = sandbox.admin("/_admin/stats")
    return {"total": stats["calls"], **stats["by_kind"],
            "sessions": len(stats["calls_by_session"])}


def simulated_day(workdir: Path, seed: int, say) -> Section:
    rng = random.Random(seed + 1)
    active = max(1, round(CONVERSATIONS * ACTIVE_SHARE))
    say(f"Journée simulée : bac à sable de {CONVERSATIONS} conversations, {active} actives "
        "par jour, sept jours passés en temps réel…")
    sandbox = harness.start_sandbox(seed=seed + 1, conversations=CONVERSATIONS)
    try:
        ids = [c["session_id"] for c in sandbox.admin("/_admin/truth/conversations")]
        now_ms = int(time.time() * 1000)
        window: set[str] = set()
        for days_ago in range(7, 0, -1):
            for session_id in rng.sample(ids, active):
                stamp = now_ms - days_ago * DAY_MS + rng.randint(3600_000, 20 * 3600_000)
                _add(sandbox, session_id, rng.randint(1, 6), stamp)
                window.add(session_id)
        live_dir, account_dir = workdir / "direct", workdir / "account"
        run_account(sandbox, live_dir)
        shutil.copytree(live_dir, account_dir)
        live = LiveProcess(sandbox, live_dir, {
            "CRISP_LIVE_SETTLE_MINUTES": 0.05,
            "CRISP_LIVE_RECONCILE_HOURS": RECONCILE_SECONDS / 3600})
        try:
            live.wait_connected()
            quiet(sandbox)
            harness.reset_counters(sandbox)
            started = time.monotonic()
            today = rng.sample(ids, active)
            added = 0
            for session_id in today:
                for _ in range(rng.randint(1, 6)):
                    _add(sandbox, session_id, 1)
                    added += 1
                    time.sleep(SPACING_SECONDS)
            say(f"Journée simulée : {added} messages dans {active} conversations ; attente du "
                "réglage et d'une réconciliation périodique…")
            settled(sandbox, live_dir)
            deadline = time.monotonic() + 3 * RECONCILE_SECONDS
            while _reconciliations(live) < 2:
                if time.monotonic() > deadline:
                    raise harness.BenchError("pas de réconciliation périodique :\n"
                                             + live.log_tail())
                time.sleep(0.5)
            quiet(sandbox)
            live_calls = _calls(sandbox)
            elapsed = time.monotonic() - started
        finally:
            code = live.stop()
        periodic = live.stats.get("live/reconciliations", 0) - 1
        harness.reset_counters(sandbox)
        run_account(sandbox, account_dir, {"CRISP_MESSAGES_LOOKBACK_DAYS": 7})
        account_calls = _calls(sandbox)
        differ = differing(live_dir, account_dir)
    finally:
        sandbox.stop()
    return _section(active, len(window | set(today)), added, elapsed, code, periodic,
                    live_calls, account_calls, differ, live.stats)


def _split(calls: dict) -> str:
    return (f"{number(calls['total'])} (messages {number(calls['messages'])}, liste "
            f"{number(calls['conversations'])}, autres "
            f"{number(calls['total'] - calls['messages'] - calls['conversations'])})")


def _section(active, window, added, elapsed, code, periodic, live_calls, account_calls,
             differ, stats) -> Section:
    share = live_calls["total"] / max(1, account_calls["total"])
    rows = [
        Row("Compte ; actives aujourd'hui ; actives sur 7 jours",
            f"{number(CONVERSATIONS)} ; {active} ({number(added)} messages) ; {window}"),
        Row("account, fenêtre de 7 jours (CRISP_MESSAGES_LOOKBACK_DAYS=7) : appels",
            _split(account_calls)),
        Row("live, la journée (réglages + réconciliation périodique) : appels",
            f"{_split(live_calls)} ; {number(periodic)} réconciliation(s) périodique(s), "
            f"{number(stats.get('live/settle_rounds', 0))} tour(s) de réglage"),
        Row("Rapport live / account", f"{ratio(share, 3)} (1/{number(1 / share, 1)})"
            if share else "0", "≤ 1/7 (0,143×)", verdict(share <= 1 / 7)),
        Row("live arrêté par SIGTERM : code ; fichiers = ceux d'account après sa relève",
            f"{code} ; " + ("oui" if not differ else f"non ({len(differ)} différents)"),
            "0 ; oui", verdict(code == 0 and not differ)),
    ]
    notes = [
        f"Mesure réelle à échelle réduite ({number(CONVERSATIONS)} conversations au lieu de "
        f"20 000) : la journée est comprimée en {number(elapsed, 0)} s, réglage à 3 s au lieu "
        f"de 30 min, réconciliation périodique toutes les {number(RECONCILE_SECONDS, 0)} s au "
        "lieu de 24 h (comptée une fois ici, comme en un jour).",
        f"live : {number(live_calls['total'] / active, 2)} appels par conversation active, dont "
        f"{number(live_calls['conversations'] / active, 2)} page(s) de liste (chaque tour de "
        "réglage commence par le haut de la liste, spiders/live_refresh.py) ; account : "
        f"{number(account_calls['messages'] / max(1, window), 2)} appel de messages par "
        "conversation active sur 7 jours.",
        "Chaque conversation active reçoit ses messages en une rafale : un seul réglage chacune. "
        "Une conversation active à plusieurs moments de la journée (séparés de plus de "
        "CRISP_LIVE_SETTLE_MINUTES) coûte une relecture par moment : non mesuré.",
        "Les deux coûts croissent avec le nombre de conversations actives (7 jours d'activité "
        "pour account, un jour pour live) ; les pages de liste pèsent un peu plus à 20 000 "
        "conversations. « Jamais au-delà du budget » et les coupures/retenues de la journée "
        "de l'issue ne sont pas mesurés ici.",
    ]
    return Section("5. Journée simulée (2 % d'activité)", rows, notes)
