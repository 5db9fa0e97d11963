"""Section « vitesse » du banc : crispscrape contre l'exportateur séquentiel, à 0 et 100 ms.

Le reste du banc complet est dans scenarios.py (économie d'appels, mémoire) et
ratelimit.py (limite de débit, refus aléatoires).
"""

from __future__ import annotations

from bench import harness
from bench.report import INFO, Row, Section, number, ratio, verdict
from bench.scenarios import PROPOSAL, PROPOSAL_TEXT, SPEED_TARGET, Bench, seconds_text


def speed(bench: Bench) -> tuple[Section, harness.ProcessRun]:
    """Section « vitesse », et l'export crispscrape à 0 ms (repris par la section mémoire)."""
    sizes, sandbox = bench.sizes, bench.sandbox
    everything = bench.messages_in(bench.conversations)
    count = len(bench.conversations)

    bench.say(f"Vitesse : crispscrape, {count} conversations, 0 ms…")
    export = harness.run_spider(sandbox, bench.fresh_dir("vitesse-0ms", bench.conversations), count)
    bench.say(f"Vitesse : exportateur séquentiel, {count} conversations, 0 ms…")
    data = bench.fresh_dir("vitesse-0ms-sequentiel", bench.conversations)
    harness.reset_counters(sandbox)
    sequential = harness.run_sequential(sandbox, data, count)
    sequential_calls = bench.calls()["calls"]
    sequential_lost = everything - harness.count_lines(data / "conversations" / "messages")

    subset = bench.conversations[:sizes.slow_subset]
    subset_messages = bench.messages_in(subset)
    harness.set_faults(sandbox, latency_ms=sizes.latency_ms)
    try:
        bench.say(f"Vitesse : {sizes.latency_ms:.0f} ms de latence, {len(subset)} conversations "
                  "(crispscrape, défauts)…")
        slow = harness.run_spider(sandbox, bench.fresh_dir("vitesse-lent-defauts", subset),
                                  len(subset))
        bench.say(f"Vitesse : {sizes.latency_ms:.0f} ms, crispscrape avec la proposition…")
        slow_proposal = harness.run_spider(
            sandbox, bench.fresh_dir("vitesse-lent-proposition", subset), len(subset), PROPOSAL)
        bench.say(f"Vitesse : {sizes.latency_ms:.0f} ms, exportateur séquentiel…")
        slow_sequential = harness.run_sequential(
            sandbox, bench.fresh_dir("vitesse-lent-sequentiel", subset), len(subset))
    finally:
        harness.set_faults(sandbox, latency_ms=0)

    def figure(run: harness.ProcessRun, messages: int, extra: str = "") -> str:
        return (f"{seconds_text(run.seconds)} ; {number(messages / run.seconds)} msg/s ; "
                f"CPU {seconds_text(run.cpu_seconds)}{extra}")

    fast_ratio = sequential.seconds / export.seconds
    slow_ratio = slow_sequential.seconds / slow.seconds
    proposal_ratio = slow_sequential.seconds / slow_proposal.seconds
    latency = f"{sizes.latency_ms:.0f} ms"
    rows = [
        Row(f"0 ms, {number(count)} conv. : crispscrape (défauts)", figure(export, everything)),
        Row(f"0 ms, {number(count)} conv. : séquentiel",
            figure(sequential, everything, f" ; {number(sequential_calls)} appels, "
                                           f"{number(sequential_lost)} messages perdus")),
        Row("0 ms : accélération (durée du séquentiel / durée de crispscrape)", ratio(fast_ratio), "— (pas de cible)", INFO),
        Row(f"{latency}, {number(len(subset))} conv. : crispscrape (défauts)",
            figure(slow, subset_messages)),
        Row(f"{latency}, {number(len(subset))} conv. : séquentiel", figure(slow_sequential, subset_messages)),
        Row(f"{latency} : accélération, crispscrape (défauts)", ratio(slow_ratio),
            f"≥ {number(SPEED_TARGET)}×", verdict(slow_ratio >= SPEED_TARGET)),
        Row(f"{latency} : crispscrape, proposition", figure(slow_proposal, subset_messages)),
        Row(f"{latency} : accélération, proposition", ratio(proposal_ratio),
            f"≥ {number(SPEED_TARGET)}× (variante)", verdict(proposal_ratio >= SPEED_TARGET)),
    ]
    notes = [
        "Durées murales des processus d'export, démarrage de Python et de Scrapy compris ; "
        "msg/s = messages de la vérité / durée. Les deux exportateurs tournent l'un après "
        "l'autre contre le même bac à sable, dans la même exécution du banc.",
        f"À {latency}, le séquentiel prendrait trop longtemps sur tout le compte : les deux "
        f"exportateurs traitent les MÊMES {len(subset)} premières conversations de la liste "
        f"({number(subset_messages)} messages).",
        "Le séquentiel suit la spécification à la lettre (timestamp_before = plus ancien, "
        "strict) : il fait un peu moins d'appels que crispscrape mais perd les messages de "
        "même milliseconde coupés par la limite d'un lot (« messages perdus »).",
        "À 0 ms, tout est limité par le processeur (2 cœurs partagés avec le bac à sable) : "
        "la colonne CPU montre le coût propre de chaque exportateur.",
        f"Proposition : {PROPOSAL_TEXT} (réglages -s, code inchangé).",
    ]
    return Section("2. Vitesse", rows, notes), export


# --- 4. Mémoire -------------------------------------------------------------------------
