"""Mesures sous ralentissement : limite de débit réelle (R req/s) et refus aléatoires.

Deux situations que le limiteur de débit doit distinguer :

- **limite réelle** : le bac à sable laisse passer R requêtes/s (seau à jetons) ; il faut
  trouver R et s'y tenir, en provoquant peu de 429 ;
- **refus aléatoires** : une part fixe des appels (8 %) reçoit 420 quel que soit le rythme
  (répartiteur de charge chargé par d'autres) ; ralentir n'y change rien, le débit doit
  donc rester proche du débit sans refus, mesuré côte à côte dans la même exécution.
"""

from __future__ import annotations

from dataclasses import dataclass

from bench import harness
from bench.report import Row, Section, number, percent, verdict
from bench.scenarios import Bench

# Variantes essayées sous limite de débit (la première est le produit tel quel).
VARIANT = {"CRISP_THROTTLE_DELAY_FACTOR": 1.5}
VARIANT_TEXT = ", ".join(f"{key}={value}" for key, value in VARIANT.items())
RATE_VARIANTS = (
    ("défauts", {}),
    ("DELAY_FACTOR=1.5", VARIANT),
)

RATE_SHARE_TARGET = 0.90  # part du débit permis effectivement obtenue
THROTTLED_TARGET = 0.05  # part maximale d'appels refusés (429)
# Statuts de refus de débit comptés comme « ralentis ».
THROTTLE_STATUSES = {"429", "420"}
# Début d'un export sous limite : le temps que le délai trouve le bon rythme.
WARMUP_SECONDS = 2.0

# Refus aléatoires : part des appels refusés, statut, et débit à garder.
RANDOM_RATIO = 0.08
RANDOM_STATUS = 420
RANDOM_SHARE_TARGET = 0.50  # part du débit sans refus
# Débit attendu sans refus (req/s, 0 ms) : dimensionne l'essai pour qu'il dure
# environ rate_seconds ; seul l'ordre de grandeur compte.
EXPECTED_FREE_RATE = 100.0


@dataclass
class RateFigures:
    achieved: float  # appels acceptés par seconde, après la première seconde
    window: float  # durée de la fenêtre de ce calcul (s)
    total: int  # tous les appels de l'export
    refused: int  # appels refusés (429/420) de l'export
    steady_total: int  # appels après WARMUP_SECONDS
    steady_refused: int  # refusés après WARMUP_SECONDS

    @property
    def refused_share(self) -> float:
        return self.refused / self.total if self.total else 0.0

    @property
    def steady_share(self) -> float:
        return self.steady_refused / self.steady_total if self.steady_total else 0.0


def rate_figures(timeline: list[list]) -> RateFigures:
    """Chiffres d'un export sous ralentissement, d'après la chronologie du bac à sable.

    Le seau à jetons du bac à sable part plein (une seconde de débit) : la première
    seconde est exclue du calcul du débit, pour ne pas compter cette rafale.
    """
    if len(timeline) < 2:
        return RateFigures(0.0, 0.0, len(timeline), 0, 0, 0)
    first = timeline[0][0]
    end = max(t for t, _ in timeline)
    start = first + 1.0
    accepted = sum(1 for t, status in timeline if t >= start and status not in THROTTLE_STATUSES)
    window = end - start
    steady = [status for t, status in timeline if t >= first + WARMUP_SECONDS]
    return RateFigures(
        achieved=accepted / window if window > 0 else 0.0, window=window, total=len(timeline),
        refused=sum(1 for _, status in timeline if status in THROTTLE_STATUSES),
        steady_total=len(steady), steady_refused=sum(1 for s in steady if s in THROTTLE_STATUSES),
    )


def _measure(bench: Bench, name: str, subset: list[dict], settings: dict | None = None,
             timeout: float = 900, **faults) -> tuple[harness.ProcessRun | None, RateFigures]:
    """Un export avec ces pannes, mesuré sur la chronologie du bac à sable.

    Un export trop long est arrêté au bout de ``timeout`` : le débit se mesure quand même
    sur ce qu'il a fait (le processus vaut alors None).
    """
    data = bench.fresh_dir(name, subset)
    # Reconfigurer la limite remplit le seau : chaque essai part du même état.
    harness.set_faults(bench.sandbox, **faults)
    harness.reset_counters(bench.sandbox)
    try:
        run = harness.run_spider(bench.sandbox, data, len(subset), settings, timeout=timeout)
    except harness.BenchError as error:
        if "trop long" not in str(error):
            raise
        bench.say(f"Export arrêté au bout de {timeout:.0f} s : {error}")
        run = None
    return run, rate_figures(bench.sandbox.admin("/_admin/calls")["calls"])


def _seconds(value: float) -> str:
    return f"{number(value, 1)} s"


def rate_limit(bench: Bench) -> Section:
    sizes = bench.sizes
    rows: list[Row] = []
    described = []
    try:
        for limit in sizes.rate_limits:
            wanted = round(limit * sizes.rate_seconds / bench.calls_per_conversation)
            subset = bench.conversations[:max(10, min(len(bench.conversations), wanted))]
            described.append(f"R = {limit:.0f} : {len(subset)} conversations")
            for label, settings in RATE_VARIANTS:
                bench.say(f"Débit limité à {limit:.0f} req/s, {len(subset)} conversations : {label}…")
                run, figures = _measure(bench, f"debit-{limit:.0f}-{len(rows)}", subset, settings,
                                        rate_limit=limit)
                share = figures.achieved / limit
                tag = "" if not settings else " (variante)"
                name = f"R = {limit:.0f}, {label}"
                rows.append(Row(f"{name} : débit obtenu",
                                f"{number(figures.achieved, 1)} req/s = {percent(share)} de R "
                                f"(fenêtre {_seconds(figures.window)}, export en "
                                f"{_seconds(run.seconds)})",
                                f"≥ {percent(RATE_SHARE_TARGET, 0)} de R{tag}",
                                verdict(share >= RATE_SHARE_TARGET)))
                rows.append(Row(f"{name} : appels refusés (429)",
                                f"{percent(figures.refused_share)} ({figures.refused} sur "
                                f"{number(figures.total)}) ; après {WARMUP_SECONDS:.0f} s : "
                                f"{percent(figures.steady_share)}",
                                f"≤ {percent(THROTTLED_TARGET, 0)}{tag}",
                                verdict(figures.refused_share <= THROTTLED_TARGET)))
    finally:
        harness.set_faults(bench.sandbox, rate_limit=0)
    notes = [
        "Bac à sable limité à R requêtes/s (seau à jetons d'une seconde de capacité), 0 ms de "
        f"latence ; chaque essai dure environ {sizes.rate_seconds:.0f} s "
        f"({' ; '.join(described)}, les premières de la liste).",
        "Chronologie des appels lue dans /_admin/calls : débit = appels acceptés par seconde, de "
        "la 2e seconde au dernier appel (la rafale initiale du seau est exclue) ; "
        "refusés = 429 / tous les appels de l'export (c'est ce chiffre qui est jugé) ; « après "
        f"{WARMUP_SECONDS:.0f} s » isole le régime établi, une fois passée la mise en route où "
        "le délai cherche encore le bon rythme.",
        f"Variante (réglage -s seulement) : « DELAY_FACTOR=1.5 » = {VARIANT_TEXT}, un "
        "ralentissement plus profond à chaque refus (creux plus marqué, refus plus rares). "
        "La ligne « défauts » est le produit tel quel.",
    ]
    return Section("3. Sous limite de débit", rows, notes)


def random_throttle(bench: Bench) -> Section:
    """Refus aléatoires (8 % de 420) contre le même export sans refus, côte à côte."""
    sizes = bench.sizes
    wanted = round(EXPECTED_FREE_RATE * sizes.rate_seconds / bench.calls_per_conversation)
    subset = bench.conversations[:max(10, min(len(bench.conversations), wanted))]
    bench.say(f"Refus aléatoires : {len(subset)} conversations sans refus…")
    free_run, free = _measure(bench, "aleatoire-sans", subset, throttle_ratio=0)
    bench.say(f"Refus aléatoires : {len(subset)} conversations, {percent(RANDOM_RATIO, 0)} de "
              f"{RANDOM_STATUS}…")
    # Un débit effondré ferait durer l'export des dizaines de minutes : on l'arrête au
    # bout de dix fois la durée sans refus, le débit se lit sur ce qui a été fait.
    timeout = 10 * free_run.seconds + 30
    try:
        run, figures = _measure(bench, "aleatoire-avec", subset, timeout=timeout,
                                throttle_ratio=RANDOM_RATIO, throttle_status=RANDOM_STATUS)
    finally:
        harness.set_faults(bench.sandbox, throttle_ratio=0)
    share = figures.achieved / free.achieved if free.achieved else 0.0

    def figure(run: harness.ProcessRun | None, figures: RateFigures) -> str:
        duration = (f"export en {_seconds(run.seconds)}" if run is not None
                    else f"export arrêté au bout de {_seconds(timeout)}")
        return (f"{number(figures.achieved, 1)} req/s acceptées (fenêtre "
                f"{_seconds(figures.window)}, {duration}) ; {number(figures.total)} appels "
                f"dont {figures.refused} refusés ({percent(figures.refused_share)})")

    rows = [
        Row(f"{number(len(subset))} conv., sans refus", figure(free_run, free)),
        Row(f"{number(len(subset))} conv., {percent(RANDOM_RATIO, 0)} de {RANDOM_STATUS} "
            "aléatoires", figure(run, figures)),
        Row("Débit gardé malgré les refus aléatoires", percent(share),
            f"≥ {percent(RANDOM_SHARE_TARGET, 0)} du débit sans refus",
            verdict(share >= RANDOM_SHARE_TARGET)),
    ]
    if run is not None:
        rows.append(Row("… attente cumulée des requêtes refusées",
                        f"{number(run.stats.get('crisp_throttle/wait_seconds', 0), 1)} s"))
    notes = [
        f"Bac à sable sans limite de débit, 0 ms de latence ; avec refus : option "
        f"throttle_ratio={RANDOM_RATIO} (throttle_status={RANDOM_STATUS}), un tirage par appel "
        "qui ne dépend pas du rythme du client. Mêmes conversations (les premières de la "
        "liste), deux exports l'un après l'autre dans la même exécution du banc.",
        "Débit = appels acceptés par seconde, de la 2e seconde au dernier appel (chronologie "
        "/_admin/calls), comme pour la limite de débit.",
    ]
    return Section("4. Refus aléatoires (ralentissement sporadique)", rows, notes)
