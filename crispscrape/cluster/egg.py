"""L'œuf du projet, construit comme le fait scrapyd-deploy (``setup.py bdist_egg``), mais dans
une copie temporaire : l'arbre de travail ne reçoit ni build/ ni *.egg-info."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

# Ce que setup.py empaquette (find_packages(include=["crispscrape", …])) et lui-même.
PACKAGE = "crispscrape"


class EggError(Exception):
    """Construction impossible : le message (en français) est pour l'utilisateur."""


def build_egg(project_root: Path) -> bytes:
    """Octets de l'œuf construit à partir du setup.py versionné du projet."""
    root = Path(project_root)
    if not (root / "setup.py").is_file() or not (root / PACKAGE).is_dir():
        raise EggError(f"{root} n'est pas la racine du projet (setup.py et {PACKAGE}/ attendus).")
    with tempfile.TemporaryDirectory(prefix="crisp-cluster-egg-") as workdir:
        copy = Path(workdir) / "projet"
        copy.mkdir()
        shutil.copy2(root / "setup.py", copy / "setup.py")
        shutil.copytree(root / PACKAGE, copy / PACKAGE,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        dist = Path(workdir) / "dist"
        result = subprocess.run([sys.executable, "setup.py", "bdist_egg", "-d", str(dist)],
                                cwd=copy, capture_output=True, text=True)
        eggs = sorted(dist.glob("*.egg"))
        if result.returncode != 0 or not eggs:
            raise EggError("Construction de l'œuf impossible (setup.py bdist_egg) :\n"
                           + (result.stderr or result.stdout)[-2000:])
        return eggs[0].read_bytes()
