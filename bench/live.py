"""``python -m bench.live [--minutes M] [--rate R] [--quick]`` : banc du direct (issue 22).

Tout est réel : un bac à sable et un ``scrapy crawl live`` en sous-processus, sur un export
``scrapy crawl account``. Le banc ajoute R messages/s pendant M minutes par l'administration
du bac à sable (un appel par message, cadencé ; chaque ajout émet ``message:send`` sur le
RTM), comme des discussions : ``--open`` conversations ouvertes à la fois, chacune reçoit de
5 à 20 messages puis se tait (une autre, tirée au hasard, prend sa place).

Mesures (bilan en français, chaque chiffre à côté de sa cible) :
1. événement -> fichier : t0 juste avant l'appel d'administration, t1 la première fois que
   l'empreinte est lue dans le fichier de sa conversation (bench/live_watch.py) ;
2. mémoire (VmRSS) et CPU du direct chaque seconde : 2e minute contre dernière ;
3. fin : réglage attendu, SIGTERM (code 0), puis un ``account`` neuf dans un autre
   répertoire : fichiers comparés octet pour octet, messages perdus ou doublés ;
4. appels du direct pendant la charge (compteurs du bac à sable remis à zéro une fois la
   réconciliation du départ finie) ;
5. (hors --quick, ou avec --day) la journée simulée : bench/live_day.py.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import scrapy

from bench import harness, live_day, report
from bench.live_process import (LiveProcess, absent, data_tree, differing,
                                duplicated_fingerprints, quiet, run_account, settled)
from bench.live_watch import (LOST_SECONDS, POLL_SECONDS, SESSION_LENGTH, Chats, Expected,
                              FileWatcher, RssSampler, cpu_text, drive, ms, per_minute,
                              percentile)
from bench.report import INFO, Row, Section, number, ratio, verdict

# 3 s de calme avant la relecture REST et entre deux pages de réglage (défauts : 30, 60 min).
SETTLE = {"CRISP_LIVE_SETTLE_MINUTES": 0.05, "CRISP_LIVE_LIST_MINUTES": 0.05}
P50_TARGET, P99_TARGET, RSS_TARGET = 0.100, 1.0, 1.05


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.live",
                                     description="Banc du direct (scrapy crawl live).")
    parser.add_argument("--minutes", type=float, default=None,
                        help="durée de la charge (défaut : 10 ; 1 avec --quick)")
    parser.add_argument("--rate", type=float, default=50.0,
                        help="événements par seconde (défaut : %(default)s ; ≤ 50 avec --quick)")
    parser.add_argument("--quick", action="store_true", help="1 minute, petit compte")
    parser.add_argument("--conversations", type=int, default=None,
                        help="taille du compte (défaut : 1000 ; 300 avec --quick)")
    parser.add_argument("--open", type=int, default=25,
                        help="discussions ouvertes à la fois (défaut : %(default)s)")
    parser.add_argument("--day", action=argparse.BooleanOptionalAction, default=None,
                        help="journée simulée (section 5 ; par défaut hors --quick)")
    parser.add_argument("--seed", type=int, default=7, help="graine (défaut : %(default)s)")
    parser.add_argument("--keep", action="store_true", help="garder le répertoire de travail")
    parser.add_argument("--output", type=Path, help="écrire aussi le bilan dans ce fichier")
    parser.add_argument("-s", "--set", action="append", default=[], metavar="RÉGLAGE=VALEUR",
                        help="réglage de plus pour le direct et les deux exports (variante)")
    return parser


def live_run(sandbox, workdir: Path, args, say) -> list[Section]:
    data_dir, fresh_dir = workdir / "direct", workdir / "neuf"
    extra = dict(item.split("=", 1) for item in args.set)
    say("Export initial (scrapy crawl account)…")
    run_account(sandbox, data_dir, extra)
    ids = [c["session_id"] for c in sandbox.admin("/_admin/truth/conversations")]
    live = LiveProcess(sandbox, data_dir, {**SETTLE, **extra})
    origin = time.perf_counter()
    rss = RssSampler(live.pid, origin)
    rss.start()
    try:
        live.wait_connected()
        quiet(sandbox)  # réconciliation du départ finie
        harness.reset_counters(sandbox)
        watcher = FileWatcher(data_dir)
        watcher.start()
        say(f"Direct connecté ; charge : {args.rate:g} événements/s pendant {args.minutes:g} min.")
        load_start = time.perf_counter() - origin
        added, admin_seconds, elapsed = drive(sandbox, watcher, Chats(ids, args.open, args.seed),
                                              args.rate, args.minutes * 60, say)
        deadline = time.perf_counter() + LOST_SECONDS + 1
        while watcher.pending() and time.perf_counter() < deadline:
            time.sleep(0.05)
        watcher.stop()
        watcher.poll_once()  # dernier tour : ce qui reste attend depuis plus de 10 s
        say("Charge finie ; attente du réglage (relectures REST)…")
        settle_wait = settled(sandbox, data_dir)
        calls = sandbox.admin("/_admin/stats")
    finally:
        try:
            rss.stop()
        finally:
            code = live.stop()
    say(f"Direct arrêté (code {code}) ; export neuf pour comparer…")
    run_account(sandbox, fresh_dir, extra)
    differ = differing(data_dir, fresh_dir)
    compared = len(data_tree(data_dir).keys() | data_tree(fresh_dir).keys())
    return [latency_section(args, watcher, added, admin_seconds, elapsed, live),
            memory_section(args, rss, load_start),
            end_section(live, code, settle_wait, differ, compared,
                        absent(data_dir, added), duplicated_fingerprints(data_dir)),
            calls_section(calls, added, live.stats)]


def latency_section(args, watcher, added, admin_seconds, elapsed, live) -> Section:
    delays = [item.t1 - item.t0 for item in watcher.seen]
    p50, p99 = percentile(delays, 0.50), percentile(delays, 0.99)
    lost = len(added) - len(delays)
    rows = [
        Row("Messages ajoutés (un appel d'administration chacun)",
            f"{number(len(added))} en {number(elapsed / 60, 2)} min, soit "
            f"{number(len(added) / elapsed, 1)}/s (demandé {number(args.rate, 0)}/s)"),
        Row("Événement -> fichier : p50", ms(p50), f"≤ {ms(P50_TARGET, 0)}",
            verdict(p50 <= P50_TARGET)),
        Row("Événement -> fichier : p99", ms(p99), f"≤ {ms(P99_TARGET, 0)}",
            verdict(p99 <= P99_TARGET)),
        Row("Événement -> fichier : max", ms(max(delays, default=float("nan")))),
        Row("Vus / perdus (jamais vus en 10 s)", f"{number(len(delays))} / {number(lost)}",
            "0 perdu", verdict(lost == 0)),
        Row("Événements reçus (journalisés) / envoyés ; coupures RTM (« Direct interrompu »)",
            f"{number(live.stats.get('live/events', 0))} / {number(len(added))} ; "
            f"{live.log_count('Direct interrompu')}", "tous ; 0",
            verdict(live.stats.get("live/events") == len(added)
                    and not live.log_count("Direct interrompu"))),
        Row("Appel d'administration seul (ajout + émission) : p50 / p99",
            f"{ms(percentile(admin_seconds, 0.5))} / {ms(percentile(admin_seconds, 0.99))}"),
    ]
    notes = [f"t0 : juste avant l'appel d'administration (qui émet message:send avant de "
             f"répondre) ; t1 : première lecture du fichier de la conversation où l'empreinte "
             f"figure. Les fichiers qui attendent un message sont relevés toutes les "
             f"{number(POLL_SECONDS * 1000)} ms (inode, taille, date), puis lus : la mesure "
             f"ajoute jusqu'à ~{number(POLL_SECONDS * 1000)} ms.",
             f"Discussions : {args.open} conversations ouvertes à la fois, chacune reçoit "
             f"{SESSION_LENGTH[0]} à {SESSION_LENGTH[1]} messages puis se tait (une autre, tirée "
             f"au hasard parmi {args.conversations}, prend sa place) ; relues par REST 3 s "
             "après leur dernier message, pendant la charge.",
             "Par minute de charge (p50 / p99 des vus ; perdus) : " + per_minute(added)]
    return Section("1. Événement -> fichier sur disque", rows, notes)


def load_text(value: float | None) -> str:
    return "—" if value is None else number(value, 2)


def memory_section(args, rss: RssSampler, load_start: float) -> Section:
    end = load_start + args.minutes * 60
    second = rss.mean(load_start + 60, load_start + 120) if args.minutes >= 2 else None
    last = rss.mean(end - 60, end)
    meaningful = args.minutes >= 3
    value = ratio(last / second, 3) if second and last and meaningful else "—"
    ok = bool(second and last and last / second <= RSS_TARGET)
    rows = [Row("RSS du direct, 2e minute de charge (moyenne)",
                f"{number(second / 1024, 1)} Mio" if second else "— (charge trop courte)"),
            Row("RSS du direct, dernière minute (moyenne)",
                f"{number(last / 1024, 1)} Mio" if last else "—"),
            Row("Rapport dernière / 2e minute", value, f"≤ {ratio(RSS_TARGET)}",
                verdict(ok) if meaningful else INFO),
            Row("RSS au plus haut", f"{number(max(s[1] for s in rss.samples) / 1024, 1)} Mio"
                if rss.samples else "—"),
            Row("CPU du direct, toute la charge", cpu_text(rss, load_start, end, args.rate)),
            Row("CPU du direct, 1re minute", cpu_text(rss, load_start, load_start + 60, args.rate)),
            Row("CPU du direct, dernière minute", cpu_text(rss, end - 60, end, args.rate)),
            Row("Charge moyenne de la machine (1 min) : 2e minute ; dernière ; toute la charge",
                " ; ".join(load_text(rss.mean(a, b, 3)) for a, b in (
                    (load_start + 60, load_start + 120), (end - 60, end), (load_start, end))))]
    notes = ["VmRSS de /proc/PID/status et CPU (utime + stime de /proc/PID/stat) du seul "
             "processus « scrapy crawl live », une fois par seconde ; minutes comptées depuis "
             "le début de la charge. Le CPU comprend tout le travail du direct (relectures "
             "REST, liste, pièces jointes), rapporté aux événements envoyés.",
             "RSS moyen par minute de charge (Mio) : " + " ; ".join(
                 number((rss.mean(load_start + 60 * m, load_start + 60 * m + 60) or 0) / 1024, 1)
                 for m in range(max(1, round(args.minutes)))) + "."]
    if not meaningful:
        notes.append("Charge de moins de 3 minutes : la 2e et la dernière minute se recouvrent "
                     "ou se touchent, le rapport n'est pas significatif (pas de verdict).")
    return Section("2. Mémoire et CPU du direct", rows, notes)


def end_section(live, code, settle_wait, differ, compared, missing, duplicates) -> Section:
    stats = live.stats
    rows = [
        Row("Réglage après la charge (plus rien à relire, API au calme 2 s)",
            f"{number(settle_wait, 1)} s"),
        Row("Arrêt par SIGTERM : code de sortie, fin", f"{code}, {stats.get('finish_reason')}",
            "0, live_stopped", verdict(code == 0 and stats.get("finish_reason") == "live_stopped")),
        Row("Fichiers identiques à un export neuf (account)",
            "oui" if not differ else f"non ({len(differ)} différents sur {compared})",
            "oui", verdict(not differ)),
        Row("Messages ajoutés absents de leur fichier à la fin", number(missing), "0",
            verdict(missing == 0)),
        Row("Empreintes en double (tous les fichiers de messages)", number(duplicates), "0",
            verdict(duplicates == 0)),
        Row("Événements journalisés / appliqués",
            f"{number(stats.get('live/events', 0))} / {number(stats.get('live/applied', 0))}"),
    ]
    notes = [f"Comparés octet pour octet : conversations/conversations.jsonl et "
             f"conversations/messages/*.jsonl ({compared} fichiers) ; ni les états, ni "
             "conversations/fichiers.jsonl (son compteur attempts compte les exécutions).",
             "CRISP_LIVE_SETTLE_MINUTES et CRISP_LIVE_LIST_MINUTES à 0,05 dans ce banc (3 s ; "
             "défauts 30 et 60 min)."]
    if differ:
        notes.append("Fichiers différents (10 premiers) : " + ", ".join(differ[:10]))
    return Section("3. Arrêt et fichiers", rows, notes)


def calls_section(calls: dict, added: list[Expected], stats: dict) -> Section:
    touched = len({item.session_id for item in added})
    kinds = calls["by_kind"]
    rows = [
        Row("Appels du direct pendant la charge et le réglage", number(calls["calls"])),
        Row("… dont messages / liste des conversations / autres",
            f"{number(kinds.get('messages', 0))} / {number(kinds.get('conversations', 0))} / "
            f"{number(calls['calls'] - kinds.get('messages', 0) - kinds.get('conversations', 0))}"),
        Row("Conversations touchées ; appels de messages par conversation touchée",
            f"{number(touched)} ; {number(kinds.get('messages', 0) / max(1, touched), 2)}"),
        Row("Appels (tous) par conversation touchée",
            number(calls["calls"] / max(1, touched), 2)),
        Row("Tours de réglage ; relectures réglées ; réconciliations (départ compris)",
            f"{number(stats.get('live/settle_rounds', 0))} ; "
            f"{number(stats.get('live/settled', 0))} ; "
            f"{number(stats.get('live/reconciliations', 0))}"),
    ]
    notes = ["Compteurs du bac à sable (/_admin/stats) remis à zéro une fois le direct connecté "
             "et sa réconciliation de départ finie (API au calme 2 s), lus après le réglage."]
    return Section("4. Appels à l'API", rows, notes)


def run_all(args, workdir: Path, day: bool, say) -> list[Section] | None:
    """Sections 1 à 4 (None si elles n'ont pas pu aller au bout), puis la journée simulée."""
    try:
        sandbox = harness.start_sandbox(seed=args.seed, conversations=args.conversations)
        try:
            sections = live_run(sandbox, workdir, args, say)
        finally:
            sandbox.stop()
    except harness.BenchError as error:
        print(f"Le banc n'a pas pu aller au bout : {error}", file=sys.stderr)
        return None
    if day:
        try:
            sections.append(live_day.simulated_day(workdir / "journee", args.seed, say))
        except harness.BenchError as error:
            print(f"Journée simulée impossible : {error}", file=sys.stderr)
    return sections


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    args.minutes = args.minutes or (1.0 if args.quick else 10.0)
    args.rate = min(args.rate, 50.0) if args.quick else args.rate
    args.conversations = args.conversations or (300 if args.quick else 1000)
    day = (not args.quick) if args.day is None else args.day
    started = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="crispscrape-bench-live-"))
    load = os.getloadavg()
    say(f"Bac à sable : {args.conversations} conversations ; travail dans {workdir}.")
    try:
        sections = run_all(args, workdir, day, say)
    finally:
        if args.keep:
            say(f"Répertoire de travail gardé : {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    if sections is None:
        return 2
    passed, failed = report.summary(sections)
    options = (" --quick" if args.quick else "") + "".join(f" -s {s}" for s in args.set)
    header = [
        f"## Banc du direct (issue 22) — {'rapide (--quick)' if args.quick else 'complet'}", "",
        f"- Commande : python -m bench.live --minutes {args.minutes:g} --rate {args.rate:g}"
        f"{options} ; date : {datetime.now():%Y-%m-%d %H:%M} ; durée du banc : "
        f"{number((time.perf_counter() - started) / 60, 1)} min.",
        f"- Machine : {os.cpu_count()} cœurs (partagés : bac à sable, direct et banc), charge "
        f"moyenne au départ {load_text(load[0])} et à la fin {load_text(os.getloadavg()[0])} ; "
        f"travail dans {workdir.parent} ; Python {platform.python_version()}, Scrapy "
        f"{scrapy.__version__} ; bac à sable local (graine {args.seed}, {args.conversations} "
        "conversations).",
        f"- Cibles : {passed} atteinte(s), {failed} manquée(s).",
    ]
    text = report.markdown(sections, header)
    return report.emit(text, args.output)


if __name__ == "__main__":
    sys.exit(main())
