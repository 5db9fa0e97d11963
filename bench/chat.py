"""``python -m bench.chat`` : appels des exports ninja et wanzo comparés au minimum.

Pour chaque système, contre sa doublure locale (``--conversations`` conversations) :

1. premier export complet : appels reçus par la doublure contre le minimum (pages de liste
   + pour chaque conversation ``max(1, ceil(n / taille de page))``) ;
2. relance sans changement : contre le minimum (les pages de liste seules) ;
3. ``--changed`` conversations reçoivent des messages, relance : contre le minimum (liste +
   un appel par conversation changée) ;
4. wanzo seulement : la même chose avec des contextes qui remontent en tête pendant le
   parcours de la liste (dérive) : appels et exactitude.

Chaque export est comparé à la vérité de la doublure (exact = aucun message perdu ni en
double, fichiers triés).
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
from pathlib import Path

from crispsandbox.standins.process import start_standin
from crispscrape.sources.ninja import NINJA
from crispscrape.sources.wanzo import WANZO

SOURCES = {"ninja": NINJA, "wanzo": WANZO}


def list_pages(system: str, count: int) -> int:
    return max(1, math.ceil(count / SOURCES[system].list_limit))


def minimum_calls(system: str, truth: dict) -> int:
    """Appels minimaux d'un premier export : pages de liste + pages de messages."""
    limit = SOURCES[system].messages_limit
    return list_pages(system, len(truth["conversations"])) + sum(
        max(1, math.ceil(len(m) / limit)) for m in truth["messages"].values())


def _run(system: str, server, data_dir: Path) -> tuple[int, float]:
    # Import tardif : le banc se lance sans pytest installé... mais réutilise l'outil de crawl.
    from tests.support.crawling import run_crawl
    server.reset_stats()
    started = time.monotonic()
    result = run_crawl(system, data_dir, server.env(), settings={"LOG_LEVEL": "WARNING"},
                       timeout=3600)
    if result.returncode != 0:
        raise SystemExit(f"{system} a échoué (code {result.returncode}) :\n{result.log[-3000:]}")
    return server.stats()["calls"], time.monotonic() - started


def _exact(system: str, data_dir: Path, truth: dict) -> str:
    from tests.support.chat_support import export_problems
    problems = export_problems(system, data_dir, truth)
    return "exact" if not problems else f"{len(problems)} écart(s)"


def bench_system(system: str, conversations: int, changed: int, drift: int) -> list[str]:
    rows = []
    options = {"seed": 11, "conversations": conversations}
    if drift:
        options.update(drift_every=drift, drift_contexts=2)
    with start_standin(system, **options) as server:
        data_dir = Path(tempfile.mkdtemp(prefix=f"crispscrape-{system}-")) / "data"
        data_dir.mkdir()
        label = system + (" (dérive)" if drift else "")
        calls, seconds = _run(system, server, data_dir)
        truth = server.truth()
        if drift:
            server.drift(every=0)
            _run(system, server, data_dir)
            truth = server.truth()
        rows.append(f"| {label} | premier export | {calls} | {minimum_calls(system, truth)} | "
                    f"{seconds:.1f} s | {_exact(system, data_dir, truth)} |")
        if drift:
            return rows
        calls, seconds = _run(system, server, data_dir)
        rows.append(f"| {label} | relance sans changement | {calls} | "
                    f"{list_pages(system, conversations)} | {seconds:.1f} s | "
                    f"{_exact(system, data_dir, truth)} |")
        for conversation in truth["conversations"][:changed]:
            server.append(str(conversation.get("uuid") or conversation.get("id")), count=3)
        calls, seconds = _run(system, server, data_dir)
        truth = server.truth()
        rows.append(f"| {label} | relance, {changed} changées | {calls} | "
                    f"{list_pages(system, conversations) + changed} | {seconds:.1f} s | "
                    f"{_exact(system, data_dir, truth)} |")
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.chat", description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=1000)
    parser.add_argument("--changed", type=int, default=20)
    args = parser.parse_args(argv)
    rows = ["| système | exécution | appels | minimum | durée | export |",
            "|---|---|---|---|---|---|"]
    for system in ("ninja", "wanzo"):
        rows += bench_system(system, args.conversations, args.changed, drift=0)
    rows += bench_system("wanzo", args.conversations, args.changed, drift=3)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
