"""``python -m bench.memory`` : la mémoire ne grandit pas avec le nombre de conversations.

Un bac à sable de ``--large`` conversations ; deux exports des messages à 0 ms, dans des
répertoires neufs : les ``--small`` premières conversations (plus la plus grosse du compte,
pour que la plus grosse conversation soit la même des deux côtés), puis toutes. On compare
les pics de mémoire résidente (VmHWM) du seul processus ``scrapy crawl``. Cible du projet :
pic à 20 000 conversations ≤ 1,10 × pic à 2 000.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

from bench import harness

TARGET = 1.10


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000)
    parser.add_argument("--large", type=int, default=20000)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="crispscrape-memoire-"))
    print(f"Bac à sable : {args.large} conversations (génération)…", file=sys.stderr, flush=True)
    sandbox = harness.start_sandbox(seed=args.seed, conversations=args.large)
    try:
        conversations = sandbox.admin("/_admin/truth/conversations")
        counts = sandbox.admin("/_admin/truth/counts")
        biggest = max(conversations, key=lambda c: counts.get(c["session_id"], 0))
        small = conversations[:args.small]
        if biggest not in small:
            small = [*small[:-1], biggest]
        runs = {}
        for label, subset in (("petit", small), ("grand", conversations)):
            data = work / label
            harness.write_conversations(data, subset)
            print(f"Export des messages : {len(subset)} conversations…", file=sys.stderr, flush=True)
            runs[label] = harness.run_spider(sandbox, data, len(subset), timeout=3600)
            shutil.rmtree(data)
    finally:
        sandbox.stop()
        shutil.rmtree(work, ignore_errors=True)
    low, high = runs["petit"], runs["grand"]
    growth = high.peak_rss_kib / low.peak_rss_kib
    print("| export | conversations | pic RSS (Mio) | durée (s) |")
    print("|---|---|---|---|")
    print(f"| petit | {len(small)} | {low.peak_rss_mib:.1f} | {low.seconds:.1f} |")
    print(f"| grand | {len(conversations)} | {high.peak_rss_mib:.1f} | {high.seconds:.1f} |")
    print(f"Rapport des pics : {growth:.3f} (cible ≤ {TARGET}) : "
          f"{'ATTEINTE' if growth <= TARGET else 'MANQUÉE'}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
