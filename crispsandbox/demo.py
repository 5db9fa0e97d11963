"""Démonstration complète (``make demo``) : export de bout en bout contre le bac à sable local.

Démarre le bac à sable, lance les exports disponibles dans l'ordre (conversations, messages,
utilisateurs) comme le ferait un utilisateur, puis les exports des deux autres systèmes
(ninja, wanzo) contre leurs doublures, affiche le récapitulatif de chacun et l'endroit où
sont les fichiers, arrête tout, puis construit la base d'analyse et le rapport
(``scrapy report``). Aucun appel ne sort de la machine.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from scrapy.spiderloader import SpiderLoader
from scrapy.utils.project import get_project_settings

from crispsandbox.process import repository_root, start_sandbox
from crispsandbox.standins.process import start_standin

ORDER = ("conversations", "messages", "users")


def summary(log: str) -> str:
    """Le bloc « Récapitulatif » du journal d'un crawl."""
    lines = log.splitlines()
    for index, line in enumerate(lines):
        if "Récapitulatif" in line:
            block = [line.split("INFO: ", 1)[-1]]
            block += [next_line for next_line in lines[index + 1:] if next_line.startswith("  ")]
            return "\n".join(block)
    return "\n".join(lines[-15:])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Démonstration de crispscrape sur le bac à sable.")
    parser.add_argument("--data-dir", default="demo-data", help="répertoire des fichiers exportés")
    parser.add_argument("--conversations", type=int, default=60,
                        help="taille du compte simulé (défaut : 60 conversations)")
    options = parser.parse_args(argv)
    root = repository_root()  # les crawls partent du dépôt, où est scrapy.cfg
    data_dir = Path(options.data_dir).resolve()
    available = set(SpiderLoader.from_settings(get_project_settings()).list())
    spiders = [name for name in ORDER if name in available]
    print(f"Bac à sable : {options.conversations} conversations simulées ; exports : "
          f"{', '.join(spiders)}.")
    sandbox = start_sandbox(seed=1, conversations=options.conversations)
    status = 0
    try:
        env = {**os.environ, **sandbox.env(), "CRISP_DATA_DIR": str(data_dir)}
        for spider in spiders:
            command = [sys.executable, "-m", "scrapy", "crawl", spider, "-a", "nb=100000"]
            print(f"\n$ scrapy crawl {spider} -a nb=100000")
            result = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True)
            print(summary(result.stderr))
            if result.returncode != 0:
                print(f"Échec de « {spider} » (code {result.returncode}).")
                status = result.returncode
                break
    finally:
        sandbox.stop()
    if status == 0:
        status = other_systems(root, data_dir, options.conversations)
    print(f"\nFichiers exportés dans {data_dir} :")
    for line in produced_files(data_dir):
        print(f"  {line}")
    if status == 0:
        # Base d'analyse et rapport : d'après les fichiers seuls (aucun appel, aucun identifiant).
        print("\n$ scrapy report")
        report = subprocess.run([sys.executable, "-m", "scrapy", "report"], cwd=root,
                                env={**os.environ, "CRISP_DATA_DIR": str(data_dir)},
                                capture_output=True, text=True)
        print(report.stdout.strip() or report.stderr[-2000:])
        status = report.returncode
    return status


def produced_files(data_dir: Path) -> list[str]:
    """Liste finale des fichiers produits : un par ligne, sauf les dossiers nombreux
    (messages/, pièces jointes de conversations/fichiers/), résumés en une ligne chacun."""
    lines = [str(path.relative_to(data_dir)) for path in sorted(data_dir.rglob("*"))
             if path.is_file() and path.parent.name != "messages" and "fichiers" not in path.parts
             and "parquet" not in path.parts]
    for folder in ("conversations", "ninja", "wanzo"):
        messages = data_dir / folder / "messages"
        if messages.is_dir():
            lines.append(f"{folder}/messages/ : {len(list(messages.glob('*.jsonl')))} fichiers .jsonl")
    attachments = data_dir / "conversations" / "fichiers"
    if attachments.is_dir():
        # Pièces jointes téléchargées : l'essentiel des octets de l'export.
        count = sum(1 for path in attachments.rglob("*")
                    if path.is_file() and not path.name.endswith(".tmp"))
        lines.append(f"conversations/fichiers/ : {count} pièces jointes")
    return lines


def other_systems(root: Path, data_dir: Path, conversations: int) -> int:
    """Les deux autres systèmes de discussion, chacun contre sa doublure locale."""
    for system in ("ninja", "wanzo"):
        standin = start_standin(system, seed=1, conversations=conversations)
        try:
            env = {**os.environ, **standin.env(), "CRISP_DATA_DIR": str(data_dir)}
            print(f"\n$ scrapy crawl {system}")
            result = subprocess.run([sys.executable, "-m", "scrapy", "crawl", system], cwd=root,
                                    env=env, capture_output=True, text=True)
            print(summary(result.stderr))
            if result.returncode != 0:
                print(f"Échec de « {system} » (code {result.returncode}).")
                return result.returncode
        finally:
            standin.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
