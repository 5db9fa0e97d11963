"""Journée simulée du banc du direct : ``python -m bench.live_day [--conversations N]`` (et
section 5 de ``python -m bench.live``).

Cible de l'issue 22 : sur un compte de 20 000 conversations dont 2 % actives par jour, les
appels d'une journée avec ``live`` (relectures de réglage + réconciliation) ≤ 1/7 de ceux
d'``account`` avec sa fenêtre de revérification de 7 jours. Mesuré en vrai sur un compte de
N conversations, le temps comprimé sans changer ce qui fait le coût :

- ``account`` relit chaque conversation active sur les 7 derniers jours : sept cohortes de
  2 % (aujourd'hui et six jours passés, datés en temps RÉEL pour que la fenêtre les couvre ;
  une conversation peut être active plusieurs jours) ;
- ``live`` relit chaque conversation active aujourd'hui (une rafale chacune : un réglage) et
  paie au plus une page de liste de réglage par ``CRISP_LIVE_LIST_MINUTES``, plus une
  réconciliation par jour. Les pages dépendent du temps, pas du compte : la journée est donc
  comprimée de sorte que chaque période de liste voie autant de conversations devenir calmes
  que dans la vraie (400 actives sur 24 périodes de 60 min à 20 000 conversations), soit
  24 × N / 20 000 périodes de ``LIST_SECONDS``. Réglage ``SETTLE_SECONDS`` (rapport 1/2 comme
  30 et 60 min) ; la réconciliation périodique tombe après la journée, comptée une fois.

Étapes : six jours passés ; export ``account`` copié (une copie pour ``live``, une pour
``account``) ; ``live`` démarre, compteurs à zéro après sa réconciliation de départ ; la
journée ; réglage et réconciliation attendus ; ``account`` avec la fenêtre de 7 jours sur
l'autre copie. Les fichiers des deux doivent être identiques.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench import harness, report
from bench.live_process import LiveProcess, differing, quiet, run_account, settled
from bench.report import Row, Section, number, ratio, verdict

CONVERSATIONS = 1000
ACTIVE_SHARE = 0.02
WINDOW_DAYS = 7
DAY_MS = 24 * 3600 * 1000
# Une vraie journée : 24 périodes de liste (60 min) pour 20 000 conversations.
REAL_CONVERSATIONS, REAL_PERIODS = 20_000, 24
SETTLE_SECONDS, LIST_SECONDS = 4.0, 8.0
SPACING_SECONDS = 0.3
RECONCILE_LINE = "Direct : réconciliation,"


def _add(sandbox, session_id: str, count: int, timestamp: int | None = None) -> None:
    payload = {"count": count} if timestamp is None else {"count": count, "timestamp": timestamp}
    sandbox.admin(f"/_admin/conversations/{session_id}/messages", method="POST", json=payload)


def _calls(sandbox) -> dict:
    stats = sandbox.admin("/_admin/stats")
    return {"total": stats["calls"], **stats["by_kind"],
            "sessions": len(stats["calls_by_session"])}


def _today(sandbox, ids: list[str], rng: random.Random, active: int, day_seconds: float
           ) -> int:
    """Les rafales du jour : chaque conversation active commence la sienne à un instant tiré
    dans la journée (1 à 6 messages espacés de SPACING_SECONDS) ; rend les messages ajoutés."""
    starts = sorted((rng.uniform(0, day_seconds), session_id)
                    for session_id in rng.sample(ids, active))
    queue = [(start + i * SPACING_SECONDS, session_id) for start, session_id in starts
             for i in range(rng.randint(1, 6))]
    queue.sort()
    origin = time.monotonic()
    for at, session_id in queue:
        time.sleep(max(0.0, origin + at - time.monotonic()))
        _add(sandbox, session_id, 1)
    return len(queue)


def simulated_day(workdir: Path, seed: int, say, conversations: int = CONVERSATIONS
                  ) -> Section:
    rng = random.Random(seed + 1)
    active = max(1, round(conversations * ACTIVE_SHARE))
    periods = REAL_PERIODS * conversations / REAL_CONVERSATIONS
    day_seconds = periods * LIST_SECONDS
    reconcile_seconds = day_seconds + 4 * LIST_SECONDS
    say(f"Journée simulée : bac à sable de {conversations} conversations, {active} actives "
        f"par jour, six jours passés en temps réel…")
    sandbox = harness.start_sandbox(seed=seed + 1, conversations=conversations)
    try:
        ids = [c["session_id"] for c in sandbox.admin("/_admin/truth/conversations")]
        now_ms = int(time.time() * 1000)
        window: set[str] = set()
        for days_ago in range(WINDOW_DAYS - 1, 0, -1):
            for session_id in rng.sample(ids, active):
                stamp = now_ms - days_ago * DAY_MS + rng.randint(3600_000, 20 * 3600_000)
                _add(sandbox, session_id, rng.randint(1, 6), stamp)
                window.add(session_id)
        live_dir, account_dir = workdir / "direct", workdir / "account"
        run_account(sandbox, live_dir)
        shutil.copytree(live_dir, account_dir)
        live = LiveProcess(sandbox, live_dir, {
            "CRISP_LIVE_SETTLE_MINUTES": SETTLE_SECONDS / 60,
            "CRISP_LIVE_LIST_MINUTES": LIST_SECONDS / 60,
            "CRISP_LIVE_RECONCILE_HOURS": reconcile_seconds / 3600})
        try:
            live.wait_connected()
            quiet(sandbox)
            harness.reset_counters(sandbox)
            started = time.monotonic()
            say(f"Journée simulée : {active} conversations actives en {day_seconds:.0f} s "
                f"({periods:.1f} périodes de liste de {LIST_SECONDS:.0f} s)…")
            added = _today(sandbox, ids, rng, active, day_seconds)
            settled(sandbox, live_dir)
            deadline = time.monotonic() + 3 * reconcile_seconds
            while live.log_count(RECONCILE_LINE) < 2:
                if time.monotonic() > deadline:
                    raise harness.BenchError("pas de réconciliation périodique :\n"
                                             + live.log_tail())
                time.sleep(0.5)
            quiet(sandbox)
            live_calls = _calls(sandbox)
            elapsed = time.monotonic() - started
        finally:
            code = live.stop()
        harness.reset_counters(sandbox)
        run_account(sandbox, account_dir, {"CRISP_MESSAGES_LOOKBACK_DAYS": WINDOW_DAYS})
        account_calls = _calls(sandbox)
        differ = differing(live_dir, account_dir)
    finally:
        sandbox.stop()
    return _section(conversations, active, account_calls["sessions"], added, elapsed, code,
                    live_calls, account_calls, differ, live.stats)


def _split(calls: dict) -> str:
    return (f"{number(calls['total'])} (messages {number(calls['messages'])}, liste "
            f"{number(calls['conversations'])}, autres "
            f"{number(calls['total'] - calls['messages'] - calls['conversations'])})")


def _section(conversations, active, window, added, elapsed, code, live_calls, account_calls,
             differ, stats) -> Section:
    share = live_calls["total"] / max(1, account_calls["total"])
    floor = active / max(1, account_calls["total"])
    rows = [
        Row("Compte ; actives aujourd'hui ; relues par account (fenêtre de 7 jours)",
            f"{number(conversations)} ; {active} ({number(added)} messages) ; {window}"),
        Row("account, fenêtre de 7 jours (CRISP_MESSAGES_LOOKBACK_DAYS=7) : appels",
            _split(account_calls)),
        Row("live, la journée (réglages + une réconciliation) : appels",
            f"{_split(live_calls)} ; {number(stats.get('live/settle_rounds', 0))} tour(s) de "
            f"réglage, {number(stats.get('live/reconciliations', 0) - 1)} réconciliation(s) "
            "périodique(s)"),
        Row("Plancher : une relecture par conversation active / appels d'account",
            f"{ratio(floor, 3)} (1/{number(1 / floor, 1)})" if floor else "0"),
        Row("Rapport live / account", f"{ratio(share, 3)} (1/{number(1 / share, 1)})"
            if share else "0", "≤ 1/7 (0,143×)", verdict(share <= 1 / 7)),
        Row("live arrêté par SIGTERM : code ; fichiers = ceux d'account après sa relève",
            f"{code} ; " + ("oui" if not differ else f"non ({len(differ)} différents)"),
            "0 ; oui", verdict(code == 0 and not differ)),
    ]
    notes = [
        f"Temps comprimé (journée de {number(elapsed, 0)} s mesurée de bout en bout) : réglage "
        f"{number(SETTLE_SECONDS, 0)} s et page de liste au plus toutes les "
        f"{number(LIST_SECONDS, 0)} s au lieu de 30 et 60 min, autant de conversations calmes "
        "par période de liste qu'à 20 000 conversations ; la réconciliation périodique "
        "(24 h par défaut) comptée une fois.",
        "Le plancher est ce que coûterait le direct s'il ne payait que la relecture REST de "
        "chaque conversation active (exigée pour des fichiers identiques octet pour octet à "
        "un export neuf) : une conversation active plusieurs jours n'est relue qu'une fois "
        "par account, d'où un plancher au-dessus de 1/7.",
        "Chaque conversation active reçoit ses messages en une rafale : un seul réglage "
        "chacune. Une conversation active à plusieurs moments de la journée (séparés de plus "
        "de CRISP_LIVE_SETTLE_MINUTES) coûte une relecture par moment : non mesuré.",
    ]
    return Section("5. Journée simulée (2 % d'activité)", rows, notes)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.live_day",
                                     description="Journée simulée du direct (appels).")
    parser.add_argument("--conversations", type=int, default=CONVERSATIONS)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, help="écrire aussi le bilan dans ce fichier")
    args = parser.parse_args(argv)
    started = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    harness.precompile()
    with tempfile.TemporaryDirectory(prefix="crispscrape-bench-day-") as workdir:
        section = simulated_day(Path(workdir), args.seed, say, args.conversations)
    text = report.markdown([section], [f"## Journée simulée — python -m bench.live_day "
                                       f"--conversations {args.conversations}", ""])
    return report.emit(text, args.output)


if __name__ == "__main__":
    sys.exit(main())
