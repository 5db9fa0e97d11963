"""Mesures du banc : économie d'appels, vitesse, mémoire (débit limité : bench/ratelimit.py).

Toutes tournent contre UN bac à sable (même jeu de données) dont on change les pannes
(latence, limite de débit) entre deux mesures, par son API d'administration. Chaque export
mesuré part d'un répertoire de données neuf, sauf les réexécutions, qui reprennent
volontairement le répertoire de l'export précédent.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from crispsandbox.dataset import Dataset
from crispsandbox.defaults import MESSAGES_BATCH

from bench import harness
from bench.paging import full_export_minimums, incremental_minimums, stored_fingerprints
from bench.report import INFO, Row, Section, number, percent, ratio, verdict

# Réglages proposés (voir le README, « Banc d'essai ») : mesurés à côté des défauts, jamais imposés.
PROPOSAL = {
    "AUTOTHROTTLE_TARGET_CONCURRENCY": 16,
}
PROPOSAL_TEXT = ", ".join(f"{key}={value}" for key, value in PROPOSAL.items())

# Cibles (énoncées à côté des chiffres).
SPEED_TARGET = 8.0  # fois l'exportateur séquentiel, à 100 ms de latence
FLAT_MEMORY_TARGET = 1.10  # rapport maximal des pics de mémoire pour 10× plus de conversations


@dataclass(frozen=True)
class Sizes:
    """Tailles d'une exécution du banc."""

    conversations: int  # export complet, réexécutions, vitesse à 0 ms, mémoire (grand)
    slow_subset: int  # vitesse à 100 ms (même sous-ensemble pour les deux exportateurs)
    memory_small: int  # mémoire (petit) : conversations / 10
    rate_limits: tuple[float, ...]  # limites de débit essayées (req/s)
    rate_seconds: float  # durée visée de chaque export sous limite de débit
    latency_ms: float = 100


QUICK = Sizes(conversations=200, slow_subset=100, memory_small=20,
              rate_limits=(20,), rate_seconds=10)
FULL = Sizes(conversations=2000, slow_subset=500, memory_small=200,
             rate_limits=(10, 20, 50), rate_seconds=25)


@dataclass
class Bench:
    """Ce que partagent les mesures : bac à sable, vérité locale, répertoire de travail."""

    sandbox: harness.SandboxProcess
    dataset: Dataset
    conversations: list[dict]
    workdir: Path
    sizes: Sizes
    say: Callable[[str], None]
    counts: dict[str, int] = field(default_factory=dict)
    # Appels sans perte par conversation (export complet) : dimensionne les essais de débit.
    calls_per_conversation: float = 1.0

    @property
    def session_ids(self) -> list[str]:
        return [c["session_id"] for c in self.conversations]

    def fresh_dir(self, name: str, conversations: list[dict]) -> Path:
        """Répertoire de données neuf, avec son conversations.jsonl."""
        path = self.workdir / name
        path.mkdir(parents=True)
        harness.write_conversations(path, conversations)
        return path

    def messages_in(self, conversations: list[dict]) -> int:
        return sum(self.counts[c["session_id"]] for c in conversations)

    def calls(self) -> dict:
        return self.sandbox.admin("/_admin/stats")


def check_truth(bench: Bench) -> None:
    """La vérité locale (Dataset) doit être celle que sert le bac à sable."""
    served = bench.sandbox.admin("/_admin/truth/counts")
    local = {sid: bench.dataset.message_count(sid) for sid in bench.dataset.session_ids()}
    if served != local:
        raise harness.BenchError("la vérité locale diffère de celle du bac à sable : "
                                 "minimums impossibles à calculer")
    bench.counts = local


def seconds_text(value: float) -> str:
    return f"{number(value, 1)} s"


def _mib(kib: float) -> str:
    return f"{number(kib / 1024, 1)} Mio"


# --- 1. Économie d'appels ------------------------------------------------------------

def _mutations(bench: Bench) -> list[tuple[str, dict]]:
    """Ajouts de messages (déterministes) pour la réexécution incrémentale.

    - ~2 % des conversations : 1 à 5 messages nouveaux (un appel doit suffire) ;
    - 2 conversations d'au moins 40 messages : 45 nouveaux (plus d'un lot) ;
    - 1 conversation d'au moins 80 messages : 4 messages d'une même milliseconde puis 38
      plus récents, pour que la limite du premier lot coupe le groupe en deux.
    """
    rng = random.Random(f"{bench.dataset.seed}:bench-mutations")
    ids = bench.session_ids
    few = rng.sample(ids, max(3, len(ids) // 50))
    rest = [sid for sid in ids if sid not in set(few)]
    long_ones = [sid for sid in rest if bench.counts[sid] >= 2 * MESSAGES_BATCH]
    medium = [sid for sid in rest if MESSAGES_BATCH <= bench.counts[sid]
              and sid not in set(long_ones[:1])]
    plan = [(sid, {"count": rng.randint(1, 5)}) for sid in few]
    plan += [(sid, {"count": 45}) for sid in medium[:2]]
    for sid in long_ones[:1]:
        plan += [(sid, {"count": 4, "same_ms": True}), (sid, {"count": 38})]
    return plan


def economy(bench: Bench) -> Section:
    sandbox, ids = bench.sandbox, bench.session_ids
    count = len(ids)
    data = bench.fresh_dir("economie", bench.conversations)
    minimums = full_export_minimums(bench.dataset, ids)
    bench.calls_per_conversation = minimums.lossfree / max(1, count)

    bench.say(f"Économie d'appels : export complet de {count} conversations…")
    harness.reset_counters(sandbox)
    export = harness.run_spider(sandbox, data, count)
    export_calls = bench.calls()["calls"]
    written = export.stats.get("messages/new", 0)

    bench.say("Économie d'appels : réexécution sans nouveau message…")
    harness.reset_counters(sandbox)
    harness.run_spider(sandbox, data, count)
    rerun = bench.calls()
    bench.say("Économie d'appels : revérification complète (-a verify=1, l'ancien comportement)…")
    harness.reset_counters(sandbox)
    harness.run_spider(sandbox, data, count, args={"verify": 1})
    verify = bench.calls()
    per_session = verify["calls_by_session"]
    one_each = (verify["calls"] == count and set(per_session) == set(ids)
                and all(n == 1 for n in per_session.values()))

    bench.say("Économie d'appels : ajout de messages, puis réexécution…")
    stored = stored_fingerprints(bench.dataset, ids)
    plan = _mutations(bench)
    for sid, payload in plan:
        sandbox.admin(f"/_admin/conversations/{sid}/messages", method="POST", json=payload)
        bench.dataset.add_messages(sid, payload["count"], same_ms=payload.get("same_ms", False))
    check_truth(bench)
    # Ce que l'export des conversations relèverait : l'activité des conversations touchées.
    harness.write_conversations(data, sandbox.admin("/_admin/truth/conversations"))
    added = sum(payload["count"] for _, payload in plan)
    changed = sorted({sid for sid, _ in plan})
    touched = len(changed)
    after = incremental_minimums(bench.dataset, changed, stored)
    harness.reset_counters(sandbox)
    incremental = harness.run_spider(sandbox, data, count)
    incremental_calls = bench.calls()["calls"]
    fetched = incremental.stats.get("messages/new", 0)

    excess = export_calls - minimums.theoretical
    rows = [
        Row(f"Export complet ({number(count)} conv., {number(minimums.messages)} messages) : appels",
            number(export_calls),
            f"= minimum sans perte : {number(minimums.lossfree)}",
            verdict(export_calls == minimums.lossfree)),
        Row("… comparé au minimum théorique Σ ceil(n/40)",
            f"{number(minimums.theoretical)} ; écart de l'export : {excess:+d} "
            f"({percent(excess / minimums.theoretical)})",
            "— (inatteignable sans perte)", INFO),
        Row("… messages écrits / vérité", f"{number(written)} / {number(minimums.messages)}",
            "égalité", verdict(written == minimums.messages)),
        Row("Réexécution sans nouveau message : appels",
            f"{number(rerun['calls'])} pour {number(count)} conv.",
            "0 (empreintes d'activité inchangées)", verdict(rerun["calls"] == 0)),
        Row("Revérification complète (-a verify=1) : appels",
            f"{number(verify['calls'])} pour {number(count)} conv. "
            f"(max {max(per_session.values(), default=0)} par conv.)",
            "exactement 1 par conversation", verdict(one_each)),
        Row(f"Réexécution après {added} messages ajoutés dans {touched} conv. (les seules "
            "demandées) : appels",
            f"{number(incremental_calls)} (minimum théorique {number(after.theoretical)})",
            f"= minimum sans perte : {number(after.lossfree)}",
            verdict(incremental_calls == after.lossfree)),
        Row("… messages nouveaux récupérés / ajoutés", f"{number(fetched)} / {number(added)}",
            "égalité", verdict(fetched == added)),
    ]
    notes = [
        "Minimum sans perte : calculé sur la vérité du bac à sable (Dataset.message_batch) en "
        "simulant le client optimal qui ne perd rien (timestamp_before = plus ancien + 1 après "
        "chaque lot plein, voir bench/paging.py).",
        "Minimum théorique : ceil(n/40) par conversation (1 si vide) ; il suppose un client qui "
        "saurait d'avance où couper. L'écart vient des conversations de plus de 40 messages : "
        "chaque lot après le premier redemande la milliseconde du plus ancien message et "
        "n'apporte que 39 messages nouveaux au plus, ce qui coûte un appel de plus quand n "
        "tombe juste sous un multiple de 40 (80 messages : 3 appels au lieu de 2).",
    ]
    if minimums.same_ms_overflows:
        notes.append(f"{minimums.same_ms_overflows} lot(s) plein(s) d'une seule milliseconde : "
                     "aucun client ne peut les paginer sans perte.")
    return Section("1. Économie d'appels", rows, notes)


# --- 2. Vitesse -------------------------------------------------------------------------

def _small_subset(bench: Bench) -> list[dict]:
    """Une conversation sur dix (même distribution de tailles), plus la plus grosse."""
    step = max(1, len(bench.conversations) // bench.sizes.memory_small)
    chosen = bench.conversations[::step][:bench.sizes.memory_small]
    largest = max(bench.conversations, key=lambda c: bench.counts[c["session_id"]])
    if largest not in chosen:
        chosen[-1] = largest
    order = {c["session_id"]: i for i, c in enumerate(bench.conversations)}
    return sorted(chosen, key=lambda c: order[c["session_id"]])


def memory(bench: Bench, export: harness.ProcessRun) -> Section:
    sandbox = bench.sandbox
    small = _small_subset(bench)
    big = bench.conversations
    largest_small = max(bench.counts[c["session_id"]] for c in small)
    largest_big = max(bench.counts[c["session_id"]] for c in big)

    bench.say(f"Mémoire : export de {len(small)} conversations (défauts)…")
    small_run = harness.run_spider(sandbox, bench.fresh_dir("memoire-petit", small), len(small))

    def rows_for(label: str, low: harness.ProcessRun, high: harness.ProcessRun, tag: str) -> list[Row]:
        growth = high.peak_rss_kib / low.peak_rss_kib
        slope = (high.peak_rss_kib - low.peak_rss_kib) / (len(big) - len(small))
        return [
            Row(f"{label} : pic RSS, {number(len(small))} conv. (plus grosse : {largest_small} msg)",
                _mib(low.peak_rss_kib)),
            Row(f"{label} : pic RSS, {number(len(big))} conv. (plus grosse : {largest_big} msg)",
                f"{_mib(high.peak_rss_kib)} (export en {seconds_text(high.seconds)})"),
            Row(f"{label} : rapport pour {number(len(big) / len(small), 0)}× plus de conversations",
                ratio(growth), f"plat : ≤ {ratio(FLAT_MEMORY_TARGET)}{tag}",
                verdict(growth <= FLAT_MEMORY_TARGET)),
            Row(f"{label} : pente apparente (2 points)", f"{number(slope, 1)} Kio par conversation"
                + (f", soit {_mib(slope * 100_000)} de plus pour 100 000 conversations"
                   if len(small) >= 100 else " (trop peu de conversations pour extrapoler)")),
        ]

    rows = rows_for("défauts", small_run, export, "")
    notes = [
        "Pic de mémoire résidente (VmHWM) du seul processus « scrapy crawl », exports à 0 ms "
        "dans des répertoires neufs ; le grand export « défauts » est celui de la section 2 (0 ms).",
        "Petit ensemble : une conversation sur dix du grand, plus la plus grosse, pour que la "
        "plus grosse conversation soit la même des deux côtés.",
        "La pente (différence des pics / différence du nombre de conversations) dit ce que "
        "coûterait un compte bien plus grand si la croissance était linéaire.",
    ]
    return Section("5. Mémoire", rows, notes)
