"""``python -m bench.live_badday [--conversations N] [--minutes M] [--seed S] [--output F]`` : la mauvaise
journée du direct (issue 22), un seul scénario tout réel. Export ``account``, puis ``scrapy crawl live`` ; M minutes
de mutations (ajouts datés en temps réel, modifications, suppressions) avec 3 coupures, 5 % d'événements perdus, des
doublons, des retenues (désordre) et 2 SIGKILL ; puis réglage, réconciliation, SIGTERM, export neuf, fichiers comparés
octet pour octet et à la vérité. Une perte ou un doublon vise UNE mutation (``faulty_mutation``) ; chaque mutation est
notée dans ``mutations.jsonl`` (``--keep``).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

from bench import harness, report
from bench.live_day import RECONCILE_LINE
from bench.live_process import (LiveProcess, data_tree, differing, duplicated_fingerprints, quiet, run_account,
                                settled, truth_gaps, wait_until)
from bench.live_watch import AdminClient, Chats
from bench.report import Row, Section, number, percent, verdict

SETTLE_MINUTES = 0.05
DISCONNECTS = (0.2, 0.5, 0.8)  # moments des coupures, en part de la charge
KILLS = (0.35, 0.65)  # moments des SIGKILL
DEAD_SECONDS = 5.0  # direct mort avant sa relance
FAULT_SHARES = {"drop": 0.05, "duplicate": 0.02, "hold": 0.03}  # part des événements proposés
HOLD_SECONDS = (0.5, 3.0)
MIX = {"send": 0.7, "edit": 0.2, "delete": 0.1}
OPEN = 25  # discussions ouvertes à la fois (Chats)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.live_badday", description="Mauvaise journée du direct.")
    add = parser.add_argument
    add("--conversations", type=int, default=300, help="taille du compte (%(default)s)")
    add("--minutes", type=float, default=3.0, help="durée de la charge (%(default)s)")
    add("--rate", type=float, default=15.0, help="mutations par seconde (%(default)s)")
    add("--reconcile-seconds", type=float, default=60.0, help="réconciliation (%(default)s s ; produit : 24 h)")
    add("--seed", type=int, default=7, help="graine (%(default)s)")
    add("--keep", action="store_true", help="garder le répertoire de travail")
    add("--output", type=Path, help="écrire aussi le bilan dans ce fichier")
    return parser


class Day:
    """La journée : mutations cadencées, pannes, direct tué et relancé ; ce qui a été appliqué."""

    def __init__(self, sandbox, data_dir: Path, args, ids: list[str]):
        self.sandbox, self.data_dir, self.args = sandbox, data_dir, args
        self.settings = {"CRISP_LIVE_SETTLE_MINUTES": SETTLE_MINUTES, "CRISP_LIVE_LIST_MINUTES": SETTLE_MINUTES,
                         "CRISP_LIVE_RECONCILE_HOURS": args.reconcile_seconds / 3600}
        self.rng, self.chats = random.Random(args.seed), Chats(ids, OPEN, args.seed)
        self.client = AdminClient(sandbox.base)
        self.alive: list[tuple[str, int]] = []  # messages ajoutés encore là
        self.log: list[dict] = []  # une entrée par mutation
        self.lives = [LiveProcess(sandbox, data_dir, self.settings)]
        self.kill_codes, self.disconnected = list[int](), list[int]()  # codes de sortie ; clients coupés
        self.unexpected: list[tuple[int, str]] = []
        # Pannes : dette, seuil tiré au sort (part exacte, moments au hasard), [demandées, appliquées, indéterminées]
        self.debt = dict.fromkeys(FAULT_SHARES, 0.0)
        self.threshold = {name: self.rng.uniform(0.5, 1.5) for name in FAULT_SHARES}
        self.faults = {name: [0, 0, 0] for name in FAULT_SHARES}
        self.restart_at: float | None = None

    def rtm(self) -> dict:
        return self.sandbox.admin("/_admin/rtm")

    def mutate(self, k: int) -> dict:
        """Une mutation (un événement publié) : ajout, modification ou suppression."""
        kind = self.rng.choices(list(MIX), list(MIX.values()))[0] if self.alive else "send"
        if kind == "send":
            session_id = self.chats.next()
            # Datés en temps réel (le bac à sable vit en 2025) : la fenêtre d'une réconciliation les couvre.
            stamp = {"count": 1, "timestamp": int(time.time() * 1000)}
            added: Any = self.client.call(f"/_admin/conversations/{session_id}/messages", stamp)
            self.alive.append((session_id, fp := added[0]["fingerprint"]))
        elif kind == "edit":
            session_id, fp = self.alive[self.rng.randrange(len(self.alive))]
            self.client.call(f"/_admin/conversations/{session_id}/messages/{fp}/edit",
                             {"content": f"Message modifié en direct (mutation n° {k})"})
        else:
            session_id, fp = self.alive.pop(self.rng.randrange(len(self.alive)))
            self.client.call(f"/_admin/conversations/{session_id}/messages/{fp}/delete", {})
        return {"k": k, "kind": kind, "session_id": session_id, "fingerprint": fp}

    def _choose_fault(self, before: dict) -> str | None:
        """Panne de l'événement qui vient, si une est due (seulement direct connecté)."""
        for name, share in FAULT_SHARES.items():
            self.debt[name] += share if before["clients"] else 0
        due = [name for name in FAULT_SHARES if self.debt[name] >= self.threshold[name]]
        if not due or not before["clients"] or before.get("hold_left", 0) > 0:
            return None
        fault = self.rng.choice(due)
        self.debt[fault] -= 1
        self.threshold[fault] = self.rng.uniform(0.5, 1.5)
        self.faults[fault][0] += 1
        return fault

    def faulty_mutation(self, k: int, at: float) -> None:
        """La mutation, peut-être avec une panne : appliquée si ``events_sent`` bouge d'une de moins (ou de plus)."""
        before = self.rtm()
        fault = self._choose_fault(before)
        if fault == "hold":
            self.client.call("/_admin/rtm/hold", {"count": 1, "seconds": self.rng.uniform(*HOLD_SECONDS)})
        elif fault:
            self.client.call(f"/_admin/rtm/{fault}", {"count": 1})
        entry = self.mutate(k)
        entry.update(t=round(at, 3), clients=before["clients"], fault=fault)
        if fault in ("drop", "duplicate"):
            self.client.call(f"/_admin/rtm/{fault}", {"count": 0})
            after = self.rtm()
            expected = 1 + after.get("released", 0) - before.get("released", 0)
            sent = after["events_sent"] - before["events_sent"]
            shift = 1 if fault == "duplicate" else -1  # une émission de plus, ou de moins
            applied = after["clients"] == 1 == before["clients"] and sent == expected + shift
            if applied or after["clients"] != 1 or sent != expected:  # sinon : pas prise
                self.faults[fault][1 if applied else 2] += 1
            entry["applied"] = applied
        self.log.append(entry)

    def scheduled(self, elapsed: float, total: float, done: set) -> None:
        """Coupures et SIGKILL à leur heure, relance du direct tué, arrêt inattendu relancé."""
        for at in DISCONNECTS:
            if at not in done and elapsed >= at * total:
                cut = self.sandbox.admin("/_admin/rtm/disconnect", method="POST")["disconnected"]
                if cut:  # personne à couper (direct pas encore connecté) : réessayé ensuite
                    done.add(at)
                    self.disconnected.append(cut)
        for at in KILLS:
            if at not in done and elapsed >= at * total and self.restart_at is None:
                done.add(at)
                self.kill_codes.append(self.lives[-1].kill())
                self.restart_at = time.perf_counter() + DEAD_SECONDS
        if self.restart_at is None and self.lives[-1].process.poll() is not None:
            self.unexpected.append((self.lives[-1].process.returncode, self.lives[-1].log_path.name))
        elif self.restart_at is None or time.perf_counter() < self.restart_at:
            return
        self.restart_at = None
        self.lives.append(LiveProcess(self.sandbox, self.data_dir, self.settings))

    def drive(self, say) -> float:
        """La charge, cadencée ; rend sa durée réelle."""
        rate, total = self.args.rate, self.args.minutes * 60
        count, done = int(rate * total), set[float]()
        start = next_report = time.perf_counter()
        try:
            for k in harness.paced(rate, count, start):
                self.scheduled(time.perf_counter() - start, total, done)
                self.faulty_mutation(k + 1, time.perf_counter() - start)
                if time.perf_counter() >= next_report:
                    next_report += 30
                    say(f"charge : {k + 1}/{count} ; coupures {len(self.disconnected)}, SIGKILL {len(self.kill_codes)}")
            while self.restart_at is not None:  # tué juste avant la fin : relancé quand même
                time.sleep(0.1)
                self.scheduled(total, total, done)
        finally:
            self.client.close()
            (self.data_dir.parent / "mutations.jsonl").write_text("".join(json.dumps(e) + "\n" for e in self.log))
        return time.perf_counter() - start


def bad_day(sandbox, workdir: Path, args, say) -> tuple[Section, Day]:
    data_dir, fresh_dir = workdir / "direct", workdir / "neuf"
    say("Export initial (scrapy crawl account)…")
    run_account(sandbox, data_dir)
    ids = [c["session_id"] for c in sandbox.admin("/_admin/truth/conversations")]
    harness.reset_counters(sandbox)
    day = Day(sandbox, data_dir, args, ids)
    f: dict[str, Any] = {}
    try:
        day.lives[-1].wait_connected()
        quiet(sandbox)  # réconciliation du départ finie
        f["start_rtm"] = day.rtm()
        say(f"Direct connecté ; charge : {args.rate:g} mutations/s pendant {args.minutes:g} min.")
        f["elapsed"], ended, live = day.drive(say), time.monotonic(), day.lives[-1]
        say("Charge finie ; retenus à faire partir, réglage, réconciliation finale…")
        wait_until("événements retenus", lambda: day.rtm().get("held", 0) == 0, 30)
        f["end_rtm"] = day.rtm()
        live.wait_connected()
        settled(sandbox, data_dir)
        mark = live.log_count(RECONCILE_LINE)  # API au calme : aucun tour en cours
        f["before"] = truth_gaps(sandbox, data_dir)
        wait_until("réconciliation", lambda: live.log_count(RECONCILE_LINE) > mark, args.reconcile_seconds + 120)
        settled(sandbox, data_dir)
        f["end_wait"], f["calls"] = time.monotonic() - ended, sandbox.admin("/_admin/stats")
    finally:
        f["code"] = day.lives[-1].stop()
    f.update(gaps=truth_gaps(sandbox, data_dir), duplicates=duplicated_fingerprints(data_dir))
    say(f"Direct arrêté (code {f['code']}) ; export neuf pour comparer…")
    harness.reset_counters(sandbox)
    run_account(sandbox, fresh_dir)
    f.update(fresh_calls=sandbox.admin("/_admin/stats")["calls"], differ=differing(data_dir, fresh_dir),
             compared=len(data_tree(data_dir).keys() | data_tree(fresh_dir).keys()))
    return section(day, args, f), day


def section(day: Day, args, f: dict) -> Section:
    (drop, dup, hold), gaps, before = (day.faults[n] for n in FAULT_SHARES), f["gaps"], f["before"]
    offered = f["end_rtm"]["events_sent"] - f["start_rtm"]["events_sent"] - dup[1] + drop[1]
    share = drop[1] / max(1, offered)  # émissions au direct, sans les doublons, pertes comprises
    released = f["end_rtm"].get("released", 0) - f["start_rtm"].get("released", 0)
    stats, calls, differ, kinds = day.lives[-1].stats, f["calls"], f["differ"], [e["kind"] for e in day.log]
    messages, listing = calls["by_kind"].get("messages", 0), calls["by_kind"].get("conversations", 0)
    rows = [
        Row("Mutations (ajouts / modifications / suppressions) ; publiées sans direct connecté",
            f"{number(len(kinds))} ({' / '.join(number(kinds.count(kind)) for kind in MIX)}) en "
            f"{number(f['elapsed'] / 60, 2)} min ; {number(sum(e['clients'] == 0 for e in day.log))}"),
        Row("Coupures (clients coupés) ; « Direct interrompu » dans les journaux", f"{len(day.disconnected)} "
            f"({'+'.join(map(str, day.disconnected))}) ; {sum(x.log_count('Direct interrompu') for x in day.lives)}",
            "3", verdict(len(day.disconnected) == 3)),
        Row("Événements perdus par le flux : appliqués / proposés au direct (demandés ; indéterminés)",
            f"{number(drop[1])} / {number(offered)} = {percent(share)} ({drop[0]} ; {drop[2]})",
            "5 % (4 à 6 %)", verdict(0.04 <= share <= 0.06)),
        Row("Événements doublés : appliqués (demandés ; indéterminés)", f"{dup[1]} ({dup[0]} ; {dup[2]})",
            "> 0", verdict(dup[1] > 0)),
        Row("Événements retenus puis partis après d'autres (released ; demandés)", f"{released} ; {hold[0]}",
            "> 0", verdict(released > 0)),
        Row("SIGKILL du direct (codes de sortie) ; arrêts inattendus", f"{len(day.kill_codes)} "
            f"({', '.join(map(str, day.kill_codes))}) ; {len(day.unexpected)}", "2 (-9) ; 0",
            verdict(day.kill_codes == [-9, -9] and not day.unexpected)),
        Row("Fin : retenus partis, réglage, réconciliation après la charge", f"{number(f['end_wait'], 1)} s"),
        Row("Arrêt par SIGTERM : code de sortie, fin", f"{f['code']}, {stats.get('finish_reason')}",
            "0, live_stopped", verdict(f["code"] == 0 and stats.get("finish_reason") == "live_stopped")),
        Row("Fichiers identiques à un export neuf (account)", "oui" if not differ else
            f"non ({len(differ)} différents sur {f['compared']})", "oui", verdict(not differ)),
        Row("Messages de la vérité absents des fichiers (perdus)", number(len(gaps["lost"])), "0",
            verdict(not gaps["lost"])),
        Row("Empreintes en double (tous les fichiers de messages)", number(f["duplicates"]), "0",
            verdict(f["duplicates"] == 0)),
        Row("Supprimés chez Crisp encore dans les fichiers ; contenus périmés (modification manquée)",
            f"{len(gaps['extra'])} ; {len(gaps['stale'])}", "0 ; 0", verdict(not gaps["extra"] + gaps["stale"])),
        Row("Les trois mêmes (perdus ; supprimés encore là ; périmés) avant la réconciliation finale",
            " ; ".join(str(len(before[name])) for name in ("lost", "extra", "stale"))),
        Row("Appels du direct, toute la journée (messages / liste / autres) ; export neuf",
            f"{number(calls['calls'])} ({number(messages)} / {number(listing)} / "
            f"{number(calls['calls'] - messages - listing)}) ; {number(f['fresh_calls'])}"),
    ]
    notes = [
        f"{OPEN} discussions ouvertes à la fois (Chats) ; modifications et suppressions de messages ajoutés "
        f"pendant la charge. Coupures à {', '.join(percent(a, 0) for a in DISCONNECTS)} de la charge, SIGKILL à "
        f"{', '.join(percent(a, 0) for a in KILLS)}, relance {number(DEAD_SECONDS)} s après. Pannes (part des "
        "événements publiés direct connecté) : " + ", ".join(f"{n} {percent(v, 0)}" for n, v in FAULT_SHARES.items()),
        f"CRISP_LIVE_SETTLE_MINUTES={SETTLE_MINUTES} (3 s), CRISP_LIVE_RECONCILE_HOURS = "
        f"{number(args.reconcile_seconds)} s (défaut 24 h). Comparés octet pour octet : conversations.jsonl et "
        f"messages/*.jsonl ({f['compared']} fichiers) ; vérité : /_admin/truth.",
    ]
    notes += [f"{title} (5 premiers) : " + ", ".join(f"{s}:{fp}" for s, fp in gaps[name][:5]) for name, title
              in (("lost", "Perdus"), ("extra", "Supprimés encore là"), ("stale", "Périmés")) if gaps[name]]
    notes += ["Fichiers différents (5 premiers) : " + ", ".join(differ[:5])] if differ else []
    return Section("Mauvaise journée du direct (issue 22)", rows, notes)


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    started = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="crispscrape-bench-badday-"))
    say(f"Bac à sable : {args.conversations} conversations ; travail dans {workdir}.")
    try:
        sandbox = harness.start_sandbox(seed=args.seed, conversations=args.conversations)
        try:
            built, day = bad_day(sandbox, workdir, args, say)
        finally:
            sandbox.stop()
    except harness.BenchError as error:
        print(f"Le banc n'a pas pu aller au bout : {error}", file=sys.stderr)
        return 2
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    passed, failed = report.summary([built])
    text = report.markdown([built], [
        "## Mauvaise journée du direct (issue 22)", "",
        f"- Commande : python -m bench.live_badday --conversations {args.conversations} --minutes "
        f"{args.minutes:g} --rate {args.rate:g} --seed {args.seed} ; {datetime.now():%Y-%m-%d %H:%M} ; "
        f"durée {number((time.perf_counter() - started) / 60, 1)} min ; {os.cpu_count()} cœurs, "
        f"charge à la fin {number(os.getloadavg()[0], 2)} ; {len(day.lives)} direct(s) ; travail : {workdir}.",
        f"- Cibles : {passed} atteinte(s), {failed} manquée(s)."])
    return report.emit(text, args.output)


if __name__ == "__main__":
    sys.exit(main())
