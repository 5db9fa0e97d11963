"""Erreurs système dites en français (storage/paths.os_reason) : de vrais ``scrapy crawl
account`` contre le bac à sable, sur un répertoire de données inutilisable.

Chaque cas attend : code 1, la cause en français dans ce que voit la personne (sortie par
défaut, sans -L), jamais le ``strerror`` anglais du système, aucun appel à l'API, et rien de
créé ni de modifié.

Droits en root (les tests tournent souvent ainsi) : root passe outre chmod. Le crawl est alors
lancé sans les capacités CAP_DAC_OVERRIDE et CAP_DAC_READ_SEARCH (``setpriv``) : toujours
root, mais soumis aux droits des fichiers, donc un vrai EACCES. EPERM vient de l'attribut
immuable d'ext4 (``chattr +i``), que même root ne traverse pas.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.support.crawling import ROOT, crawl_command, crawl_env

# Capacités qui font passer root outre les droits des fichiers.
NO_DAC = ["setpriv", "--bounding-set", "-dac_override,-dac_read_search", "--"]


def tree(directory: Path) -> dict[str, str]:
    return {str(path.relative_to(directory)): (hashlib.sha256(path.read_bytes()).hexdigest()
                                               if path.is_file() else oct(path.stat().st_mode))
            for path in sorted(directory.rglob("*"))}


def crawl(sandbox, data_dir: Path, prefix: list[str] | None = None) -> tuple[int, str]:
    """Le crawl tel qu'une personne le lance (sortie par défaut) ; sans fichier de
    statistiques, qui serait lui aussi à écrire dans un répertoire inutilisable."""
    done = subprocess.run([*(prefix or []), *crawl_command("account")], cwd=ROOT,
                          env=crawl_env(sandbox.env(), data_dir), capture_output=True,
                          text=True, timeout=180)
    return done.returncode, done.stdout + done.stderr


def calls(sandbox) -> int:
    return sandbox.admin("/_admin/stats")["calls"]


def assert_french_cause(code: int, log: str, cause: str, english: str) -> None:
    assert code == 1, log[-3000:]
    assert cause in log, log[-3000:]
    assert english not in log, log[-3000:]
    assert "Traceback" not in log, log[-3000:]


def test_data_dir_under_a_regular_file_not_a_directory(sandbox, tmp_path):
    blocker = tmp_path / "un-fichier"
    blocker.write_text("à garder\n", encoding="utf-8")
    before = tree(tmp_path)
    code, log = crawl(sandbox, blocker / "data")
    assert_french_cause(code, log, "un élément du chemin n'est pas un répertoire",
                        "Not a directory")
    assert str(blocker / "data") in log
    assert calls(sandbox) == 0
    assert tree(tmp_path) == before


def test_path_component_over_255_bytes_name_too_long(sandbox, tmp_path):
    before = tree(tmp_path)
    code, log = crawl(sandbox, tmp_path / ("é" * 130) / "data")  # 260 octets en UTF-8
    assert_french_cause(code, log, "nom de fichier trop long", "File name too long")
    assert calls(sandbox) == 0
    assert tree(tmp_path) == before


@contextmanager
def unwritable(directory: Path, how: str):
    """``chmod`` : 0555 (EACCES) ; ``chattr`` : attribut immuable (EPERM, root seulement)."""
    if how == "chmod":
        os.chmod(directory, 0o555)
        try:
            yield []
        finally:
            os.chmod(directory, 0o755)
        return
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("attribut immuable : root et chattr nécessaires (EACCES est testé à part)")
    if subprocess.run(["chattr", "+i", str(directory)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i refusé ici (système de fichiers sans attribut immuable)")
    try:
        yield []
    finally:
        subprocess.run(["chattr", "-i", str(directory)], check=True)


def without_dac_override() -> list[str]:
    """Préfixe qui soumet root aux droits des fichiers (rien hors root)."""
    if os.geteuid() != 0:
        return []
    probe = subprocess.run([*NO_DAC, "true"], capture_output=True) \
        if shutil.which("setpriv") else None
    if probe is None or probe.returncode != 0:
        pytest.skip("root sans « setpriv » utilisable : chmod ne le bloquerait pas")
    return NO_DAC


@pytest.mark.parametrize("how, cause, english", [
    ("chmod", "permission refusée", "Permission denied"),
    ("chattr", "opération non permise", "Operation not permitted"),
])
def test_read_only_data_dir_permission_denied(sandbox, data_dir, how, cause, english):
    prefix = without_dac_override() if how == "chmod" else []
    before = tree(data_dir.parent)
    with unwritable(data_dir, how):
        code, log = crawl(sandbox, data_dir, prefix)
    assert_french_cause(code, log, cause, english)
    assert str(data_dir) in log
    assert calls(sandbox) == 0
    assert tree(data_dir.parent) == before


@contextmanager
def small_disk(path: Path, size: str):
    """Un vrai système de fichiers de ``size`` (tmpfs), monté là le temps du test."""
    path.mkdir()
    if shutil.which("mount") is None or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
            capture_output=True).returncode != 0:
        pytest.skip("tmpfs impossible à monter ici (il faut root)")
    try:
        yield path
    finally:
        subprocess.run(["umount", "-l", str(path)], check=False)


def test_a_full_disk_stops_the_export_in_french_once_and_resumes_elsewhere(sandbox_factory,
                                                                            tmp_path):
    """ENOSPC pendant l'export (messages, pièces jointes, index, état) : quelques lignes en
    français, aucune trace, la cause répétée à la fin, code 1 ; le même export relancé sur un
    disque qui a de la place finit complet (rien de perdu, rien d'abîmé)."""
    sandbox = sandbox_factory(seed=1, conversations=50)
    with small_disk(tmp_path / "petit", "400k") as disk:
        data_dir = disk / "export"
        code, log = crawl(sandbox, data_dir)
        assert_french_cause(code, log, "plus de place sur le disque", "No space left")
        lines = [line for line in log.splitlines() if line.strip()]
        assert len(lines) <= 25, log  # dit une fois, pas une ligne par conversation ou pièce
        assert lines[-1].strip().startswith("Fin : écriture impossible dans le répertoire de "
                                            "données : "), log
        assert "plus de place sur le disque" in lines[-1]
        moved = tmp_path / "grand"
        shutil.copytree(data_dir, moved)
    code, log = crawl(sandbox, moved)
    assert code == 0, log[-3000:]
    assert log.rstrip().splitlines()[-1].strip().startswith("Fin : compte complet"), log[-3000:]
