"""Bannière de démarrage : les commandes d'export à coller telles quelles à la racine du projet.

Les commandes doivent marcher dans un terminal où l'environnement virtuel n'est PAS activé :
on désigne donc le script ``scrapy`` posé à côté de l'interpréteur qui fait tourner le bac à
sable (.venv/bin/scrapy), relatif à la racine du projet s'il s'y trouve, absolu sinon ; faute
de script, ``<interpréteur> -m scrapy``.
"""

from __future__ import annotations

import os
import shlex
import sys
from pathlib import Path

from .process import SourceCheckoutError, repository_root

# Répertoire des données proposé dans la bannière (relatif à la racine du projet).
DATA_DIR = "./donnees-bac-a-sable"


def project_root() -> Path | None:
    """Racine de la copie des sources, None si crispsandbox n'y tourne pas."""
    try:
        return repository_root()
    except SourceCheckoutError:
        return None


def shown_path(path: Path, root: Path | None) -> str:
    """Chemin à coller depuis ``root`` : relatif s'il est dessous, absolu sinon ; cité pour le shell."""
    absolute = Path(os.path.abspath(path))
    if root is not None:
        # Le répertoire seul est résolu (liens symboliques) : l'interpréteur d'un venv est
        # souvent un lien vers celui du système, qu'il ne faut pas suivre.
        for candidate in (absolute, absolute.parent.resolve() / absolute.name):
            if candidate.is_relative_to(root):
                relative = candidate.relative_to(root).as_posix()
                return shlex.quote(relative if "/" in relative else f"./{relative}")
    return shlex.quote(str(absolute))


def scrapy_command(executable: str | None = None, root: Path | None = None) -> str:
    """Commande ``scrapy`` qui marche sans environnement virtuel activé (voir le module)."""
    executable = executable if executable is not None else sys.executable
    if root is None:
        root = project_root()
    if not executable:
        return "python3 -m scrapy"  # interpréteur introuvable : au mieux celui du PATH
    folder = Path(os.path.abspath(executable)).parent
    for name in ("scrapy", "scrapy.exe"):
        script = folder / name
        if script.is_file() and os.access(script, os.X_OK):
            return shown_path(script, root)
    return f"{shown_path(Path(executable), root)} -m scrapy"


def export_lines(subject: str, variables: dict[str, str], commands: list[tuple[str, str]]) -> str:
    """« Pour exporter {subject}… » : les export puis les commandes (texte, commentaire),
    à coller telles quelles."""
    scrapy = scrapy_command()
    lines = [f"Pour exporter {subject}, dans un autre terminal, à la racine du projet :"]
    lines += [f"  export {name}={shlex.quote(value)}" for name, value in variables.items()]
    lines.append(f"  export CRISP_DATA_DIR={DATA_DIR}")
    width = max(len(f"{scrapy} {command}") for command, _ in commands)
    lines += [f"  {scrapy} {command}".ljust(width + 4) + (f"# {comment}" if comment else "")
              for command, comment in commands]
    return "\n".join(line.rstrip() for line in lines)
