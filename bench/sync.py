"""``python -m bench.sync`` : tenir un compte à jour, jour après jour, sous le quota.

Scénario « synchronisation quotidienne » contre le bac à sable :

1. premier export complet d'un compte de ``--conversations`` conversations par
   ``scrapy crawl account -a budget=B`` relancé chaque « jour » (B = ``--quota``) jusqu'à ce
   que le compte soit complet : nombre de jours et appels de chaque jour ;
2. puis ``--days`` jours simulés : chaque jour, ``--active`` % des conversations reçoivent
   de nouveaux messages (une nouvelle conversation arrive aussi), puis deux exports partent
   de la même copie des fichiers : celui d'avant (``-a verify=1`` : un appel par
   conversation, comme avant les empreintes) et celui d'aujourd'hui (seulement ce qui a
   changé). Les appels de chacun sont comptés par le bac à sable, et comparés au minimum :
   pages de liste + minimum sans perte des conversations changées.

La fenêtre CRISP_MESSAGES_LOOKBACK_DAYS est à 0 ici : le temps simulé du bac à sable est en
2025, elle ne couvrirait rien ; son coût (un appel par conversation active dans la fenêtre,
à chaque exécution) est dit dans docs/messages.md.
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench import harness



def account(sandbox, data_dir: Path, *args: str) -> tuple[int, dict]:
    """Un ``scrapy crawl account`` ; (code de sortie, appels reçus par le bac à sable par sorte)."""
    harness.reset_counters(sandbox)
    env = harness._environment(sandbox, data_dir)
    command = [sys.executable, "-m", "scrapy", "crawl", "account", "-L", "WARNING",
               "-s", "CRISP_MESSAGES_LOOKBACK_DAYS=0", *args]
    done = subprocess.run(command, cwd=harness.ROOT, env=env, capture_output=True, text=True,
                          timeout=3600)
    if done.returncode not in (0, 2):
        raise harness.BenchError(f"account a échoué (code {done.returncode}) :\n{done.stderr[-3000:]}")
    stats = sandbox.admin("/_admin/stats")
    return done.returncode, {"total": stats["calls"], **stats["by_kind"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sync", description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--active", type=float, default=2.0, help="% de conversations actives par jour")
    parser.add_argument("--days", type=int, default=3)
    parser.add_argument("--quota", type=int, default=1000, help="budget d'appels par jour (premier export)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    work = Path(tempfile.mkdtemp(prefix="crispscrape-sync-"))
    sandbox = harness.start_sandbox(seed=args.seed, conversations=args.conversations)
    rows = []
    try:
        data = work / "donnees"
        first_days, first_calls = 0, []
        while True:
            first_days += 1
            code, calls = account(sandbox, data, "-a", f"budget={args.quota}")
            first_calls.append(calls["total"])
            if code == 0 or first_days > 200:
                break
        ids = [c["session_id"] for c in sandbox.admin("/_admin/truth/conversations")]
        for day in range(1, args.days + 1):
            changed = rng.sample(ids, max(1, round(len(ids) * args.active / 100)))
            for session_id in changed:
                sandbox.admin(f"/_admin/conversations/{session_id}/messages", method="POST",
                              json={"count": rng.randint(1, 6)})
            created = sandbox.admin("/_admin/conversations", method="POST", json={"count": 1})
            ids += [c["session_id"] for c in created]
            before = work / f"avant-{day}"
            shutil.copytree(data, before)
            _, old = account(sandbox, before, "-a", "verify=1")
            shutil.rmtree(before)
            _, new = account(sandbox, data)
            # Minimum de messages : un lot par conversation changée ou créée (moins de 40
            # messages nouveaux chacune) ; la liste et les profils sont comptés à part.
            rows.append((day, len(changed) + len(created), old, new))
    finally:
        sandbox.stop()
        shutil.rmtree(work, ignore_errors=True)
    print(f"Compte de {args.conversations} conversations ; premier export à {args.quota} appels "
          f"par jour : {first_days} jour(s), appels par jour {first_calls}.")
    print("| jour | conversations changées | appels avant (verify=1) | appels maintenant | "
          "dont liste | dont messages (minimum) | dont profils |")
    print("|---|---|---|---|---|---|---|")
    for day, changed, old, new in rows:
        print(f"| {day} | {changed} | {old['total']} | {new['total']} | "
              f"{new.get('conversations', 0)} | {new.get('messages', 0)} ({changed}) | "
              f"{new.get('people', 0)} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
