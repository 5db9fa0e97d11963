"""``python -m bench.cpu`` : coût CPU par message, côte à côte, dans une seule exécution.

Compare sur le même bac à sable, à 0 ms de latence (tout est limité par le processeur) :
crispscrape (cette copie), l'exportateur séquentiel de référence (bench/sequential.py) et,
avec ``--baseline DOSSIER``, une autre copie de crispscrape (par exemple la version
précédente, extraite avec ``git worktree add``). Les exports alternent, répétés
``--repeat`` fois, et l'on garde la médiane : ces machines sont bruyantes, seuls les
rapports mesurés dans la même exécution comptent. Vérifie aussi que les fichiers écrits
par les deux copies de crispscrape sont identiques octet pour octet.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import sys
import tempfile
from pathlib import Path

from bench import harness


def _digest(directory: Path) -> str:
    """Empreinte de tous les fichiers de messages (noms et contenus)."""
    digest = hashlib.sha256()
    for path in sorted(directory.glob("*.jsonl")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.cpu", description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--baseline", type=Path, help="autre copie de crispscrape à comparer")
    parser.add_argument("--latency-ms", type=float, default=0,
                        help="latence ajoutée par le bac à sable (100 : la cible de vitesse ≥ 8×)")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="crispscrape-cpu-"))
    sandbox = harness.start_sandbox(seed=args.seed, conversations=args.conversations)
    try:
        conversations = sandbox.admin("/_admin/truth/conversations")
        if args.latency_ms:
            harness.set_faults(sandbox, latency_ms=args.latency_ms)
        messages = sum(len(sandbox.admin(f"/_admin/truth/messages/{c['session_id']}"))
                       for c in conversations)
        if args.baseline:
            harness.precompile(args.baseline.resolve())
        runners = {"crispscrape": lambda d: harness.run_spider(sandbox, d, len(conversations))}
        if args.baseline:
            runners["référence (--baseline)"] = lambda d: harness.run_spider(
                sandbox, d, len(conversations), tree=args.baseline.resolve())
        runners["séquentiel"] = lambda d: harness.run_sequential(sandbox, d, len(conversations))
        results: dict[str, list] = {name: [] for name in runners}
        digests: dict[str, set] = {name: set() for name in runners}
        for round_number in range(args.repeat):
            for name, run in runners.items():
                data = work / f"{round_number}-{len(results[name])}-{name[:4]}"
                harness.write_conversations(data, conversations)
                results[name].append(run(data))
                digests[name].add(_digest(data / "conversations" / "messages"))
                shutil.rmtree(data)
                print(f"… {name}, tour {round_number + 1} : CPU "
                      f"{results[name][-1].cpu_seconds:.2f} s", file=sys.stderr, flush=True)
    finally:
        sandbox.stop()
        shutil.rmtree(work, ignore_errors=True)
    sequential_cpu = statistics.median(r.cpu_seconds for r in results["séquentiel"])
    sequential_wall = statistics.median(r.seconds for r in results["séquentiel"])
    print(f"{len(conversations)} conversations, {messages} messages, {args.latency_ms:g} ms, médiane de "
          f"{args.repeat} exécutions alternées :")
    print("| export | CPU (s) | µs CPU / message | CPU / séquentiel | durée (s) | durée / séquentiel |")
    print("|---|---|---|---|---|---|")
    for name, runs in results.items():
        cpu = statistics.median(r.cpu_seconds for r in runs)
        wall = statistics.median(r.seconds for r in runs)
        print(f"| {name} | {cpu:.2f} | {cpu / messages * 1e6:.0f} | {cpu / sequential_cpu:.2f}× "
              f"| {wall:.2f} | {wall / sequential_wall:.2f}× |")
    if args.baseline:
        same = digests["crispscrape"] == digests["référence (--baseline)"] \
            and len(digests["crispscrape"]) == 1
        print(f"Fichiers identiques octet pour octet aux deux copies : {'oui' if same else 'NON'}.")
        return 0 if same else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
