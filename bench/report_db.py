"""``python -m bench.report_db`` : coût de la base d'analyse face à la simple lecture des JSONL.

Un compte d'au moins 200 000 messages est écrit directement en fichiers JSONL (jeu de données
du bac à sable, sans crawl : bench/account_files.py). Puis, côte à côte dans la même
exécution, tour à tour (ces machines sont bruyantes : la médiane de ``--rounds`` tours) :

(a) DuckDB lit les mêmes fichiers bruts : ``SELECT count(*)`` sur ``read_json`` de tous les
    fichiers de messages, de conversations.jsonl et d'utilisateurs.jsonl ;
(b) la construction complète de ``scrapy report`` : base ``crisp.duckdb`` (tables, vues),
    Parquet, mise en place atomique ; dont, à part, (b1) la base seule et (b2) l'export
    Parquet (durées mesurées par le constructeur lui-même, dans le même tour) ;
(c) pour information, le rapport HTML lu dans la base construite.

Cible du projet : (b) ≤ 1,5 × (a). Pas dans ``python -m bench`` (plus d'une minute).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import duckdb
from scrapy.settings import Settings

from bench.account_files import write_account
from crispscrape.addon import CrispAddon
from crispscrape.report.build import DatabaseBuilder
from crispscrape.report.figures import read_figures
from crispscrape.report.page import render
from crispscrape.report.sources import ExportState, Sources

TARGET = 1.5
MINIMUM_MESSAGES = 200_000


def _settings() -> Settings:
    """Réglages lus par l'état du compte : les défauts du projet (l'add-on), comme un crawl."""
    settings = Settings()
    CrispAddon().update_settings(settings)
    return settings


def raw_read(data_dir: Path) -> int:
    connection = duckdb.connect()
    try:
        messages = os.path.join(data_dir, "conversations", "messages", "*.jsonl")
        total = 0
        for source in (messages, data_dir / "conversations" / "conversations.jsonl",
                       data_dir / "utilisateurs" / "utilisateurs.jsonl"):
            total += connection.execute("SELECT count(*) FROM read_json(?, format = "
                                        "'newline_delimited')", [os.fspath(source)]).fetchall()[0][0]
        return total
    finally:
        connection.close()


def build(data_dir: Path) -> dict[str, float]:
    """Construit, et rend la durée de chaque étape mesurée par le constructeur."""
    return DatabaseBuilder(Sources(data_dir)).build().durations


def report(data_dir: Path) -> int:
    sources = Sources(data_dir)
    connection = duckdb.connect(os.fspath(data_dir / "analyse" / "crisp.duckdb"), read_only=True)
    try:
        figures = read_figures(connection, files_indexed=False)
    finally:
        connection.close()
    page = render(figures, ExportState.read(sources, _settings()), "", datetime.now(timezone.utc))
    return len(page)


def timed(function, data_dir: Path) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    value = function(data_dir)
    return time.perf_counter() - wall, time.process_time() - cpu, value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.report_db",
                                     description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=11_500,
                        help="taille du compte (défaut : %(default)s, soit ~210 000 messages)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="crispscrape-analyse-"))
    try:
        print(f"Compte de {args.conversations} conversations écrit en JSONL…", file=sys.stderr,
              flush=True)
        messages = write_account(work, args.conversations, args.seed)
        if messages < MINIMUM_MESSAGES:
            print(f"{messages} messages seulement : il en faut au moins {MINIMUM_MESSAGES} "
                  "(augmentez --conversations).", file=sys.stderr)
            return 2
        size = sum(entry.stat().st_size for entry in os.scandir(work / "conversations" / "messages"))
        runs: dict[str, list[tuple[float, float, object]]] = {"brut": [], "base": [],
                                                              "rapport": []}
        for round_number in range(args.rounds):
            print(f"Tour {round_number + 1}/{args.rounds}…", file=sys.stderr, flush=True)
            runs["brut"].append(timed(raw_read, work))
            runs["base"].append(timed(build, work))
            runs["rapport"].append(timed(report, work))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    wall = {name: statistics.median(run[0] for run in values) for name, values in runs.items()}
    cpu = {name: statistics.median(run[1] for run in values) for name, values in runs.items()}
    ratios = [b[0] / a[0] for a, b in zip(runs["brut"], runs["base"], strict=True)]
    steps = {step: [run[2][step] for run in runs["base"]] for step in ("base", "parquet")}
    ratio = wall["base"] / wall["brut"]
    print(f"Compte : {args.conversations} conversations, {messages} messages, "
          f"{size / 1e6:.0f} Mo de fichiers de messages ; {args.rounds} tours, médianes.\n")
    print("| mesure | durée (s) | CPU (s) | / lecture brute |")
    print("|---|---|---|---|")
    labels = {"brut": "(a) DuckDB lit les JSONL bruts (count(*))",
              "base": "(b) construction : base, vues, Parquet, mise en place",
              "rapport": "(c) rapport HTML (lu dans la base)"}
    for name, label in labels.items():
        print(f"| {label} | {wall[name]:.2f} | {cpu[name]:.2f} | {wall[name] / wall['brut']:.2f}× |")
        if name == "base":
            for step, step_label in (("base", "(b1) dont base seule (tables, vues, écriture)"),
                                     ("parquet", "(b2) dont export Parquet")):
                value = statistics.median(steps[step])
                print(f"| {step_label} | {value:.2f} | – | {value / wall['brut']:.2f}× |")
    print("\nTour par tour (s) :")
    for index, (raw, built) in enumerate(zip(runs["brut"], runs["base"], strict=True)):
        durations = built[2]
        print(f"- tour {index + 1} : (a) {raw[0]:.2f} ; (b) {built[0]:.2f} dont (b1) "
              f"{durations['base']:.2f}, (b2) {durations['parquet']:.2f} ; "
              f"(b)/(a) {built[0] / raw[0]:.2f}, (b1)/(a) {durations['base'] / raw[0]:.2f}")
    print(f"\nRapport (b)/(a) : {ratio:.2f} (tour par tour : "
          f"{', '.join(f'{value:.2f}' for value in ratios)}) ; cible ≤ {TARGET} : "
          f"{'ATTEINTE' if ratio <= TARGET else 'MANQUÉE'}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
