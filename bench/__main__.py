"""``python -m bench [--quick] [--rate-only]`` : banc d'essai de crispscrape contre le bac à sable.

Affiche un tableau en français (chaque chiffre à côté de sa cible, RÉUSSI/ÉCHEC par
cible) et l'écrit dans bench/results.md (remplacé à chaque exécution). Code de sortie :
0 si le banc est allé au bout (quels que soient les verdicts), 2 s'il n'a pas pu ; avec
``--strict``, 1 si une cible est manquée avec les réglages par défaut.
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

from crispsandbox.dataset import Dataset
from crispsandbox.defaults import DEFAULT_SEED

from bench import harness, ratelimit, report, scenarios, speed as speed_section
from bench.paging import full_export_minimums

RESULTS = Path(__file__).resolve().parent / "results.md"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench",
                                     description="Banc d'essai de crispscrape (bac à sable local).")
    parser.add_argument("--quick", action="store_true",
                        help="petites tailles (moins de 2 minutes), pour vérifier que tout marche")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help="graine du jeu de données (défaut : %(default)s)")
    parser.add_argument("--keep", action="store_true",
                        help="garder le répertoire de travail (exports, journaux) pour examen")
    parser.add_argument("--strict", action="store_true",
                        help="code de sortie 1 si une cible est manquée avec les réglages par défaut")
    parser.add_argument("--rate-only", action="store_true",
                        help="seulement les mesures sous ralentissement (limite de débit, refus "
                             "aléatoires)")
    parser.add_argument("--output", type=Path, default=RESULTS,
                        help="fichier Markdown du bilan (défaut : bench/results.md)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    sizes = scenarios.QUICK if args.quick else scenarios.FULL
    started = time.perf_counter()

    def say(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.1f} s] {message}", file=sys.stderr, flush=True)

    workdir = Path(tempfile.mkdtemp(prefix="crispscrape-bench-"))
    say(f"Bac à sable : {sizes.conversations} conversations, graine {args.seed} ; "
        f"travail dans {workdir}.")
    sandbox = harness.start_sandbox(seed=args.seed, conversations=sizes.conversations)
    try:
        conversations = sandbox.admin("/_admin/truth/conversations")
        bench = scenarios.Bench(sandbox, Dataset(seed=args.seed, conversations=sizes.conversations),
                                conversations, workdir, sizes, say)
        scenarios.check_truth(bench)
        if args.rate_only:
            minimums = full_export_minimums(bench.dataset, bench.session_ids)
            bench.calls_per_conversation = minimums.lossfree / max(1, len(conversations))
            sections = [ratelimit.rate_limit(bench), ratelimit.random_throttle(bench)]
        else:
            economy = scenarios.economy(bench)
            speed, export = speed_section.speed(bench)
            sections = [economy, speed, ratelimit.rate_limit(bench),
                        ratelimit.random_throttle(bench), scenarios.memory(bench, export)]
    except harness.BenchError as error:
        print(f"Le banc n'a pas pu aller au bout : {error}", file=sys.stderr)
        return 2
    finally:
        sandbox.stop()
        if args.keep:
            say(f"Répertoire de travail gardé : {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    elapsed = time.perf_counter() - started
    passed, failed = report.summary(sections)
    variant_passed, variant_failed = report.summary(sections, variants=True)
    header = [
        f"## Banc d'essai crispscrape — {'rapide (--quick)' if args.quick else 'complet'}"
        + (" — ralentissement seulement (--rate-only)" if args.rate_only else ""),
        "",
        f"- Date : {datetime.now().strftime('%Y-%m-%d %H:%M')} ; durée du banc : "
        f"{report.number(elapsed / 60, 1)} min.",
        f"- Machine : {os.cpu_count()} cœurs, Python {platform.python_version()}, "
        f"Scrapy {scrapy.__version__} ; bac à sable local (graine {args.seed}, "
        f"{sizes.conversations} conversations).",
        f"- Produit tel quel (réglages par défaut) : {passed} cible(s) atteinte(s), {failed} "
        f"manquée(s). Variantes proposées : {variant_passed} atteinte(s), {variant_failed} "
        "manquée(s) ; une ligne « variante » mesure des réglages proposés, pas le produit.",
    ]
    if args.quick:
        header.append("- Tailles réduites (--quick) : essai de bon fonctionnement. Les chiffres sont "
                      "indicatifs ; le démarrage de Scrapy (~1 s) pèse lourd sur des exports si "
                      "courts, surtout dans l'accélération à 100 ms.")
    text = report.markdown(sections, header)
    print(text)
    report.write(args.output, text)
    say(f"Bilan écrit dans {args.output}.")
    return 1 if args.strict and failed else 0


if __name__ == "__main__":
    sys.exit(main())
