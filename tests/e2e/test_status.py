"""``scrapy status`` : la vraie commande (sous-processus, sans identifiant).

- Un répertoire de données absent, ou qui n'est pas un répertoire, est dit en français
  (chemin, CRISP_DATA_DIR, la commande à lancer d'abord), code 1, rien n'est créé ; aussi
  avec ``-a website=ID`` ({CRISP_DATA_DIR}/{ID}).
- Après un vrai export du bac à sable (dont quelques fichiers répondent 404), le compte est
  dit complet avec ses pièces jointes en échec, code 0.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.crawling import ROOT, crawl_env, read_jsonl, run_crawl
from tests.support.files_truth import file_truth

SITE = "8c842203-7ed8-4e29-a608-7cf78a7d2fcc"


def status(data_dir: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scrapy", "status", *arguments], cwd=ROOT,
                          env=crawl_env({}, data_dir), capture_output=True, text=True, timeout=60)


def tree(directory: Path) -> dict[str, str]:
    return {str(path.relative_to(directory)): (hashlib.sha256(path.read_bytes()).hexdigest()
                                               if path.is_file() else "répertoire")
            for path in sorted(directory.rglob("*"))}


@pytest.mark.parametrize("case", ["absent", "absent-site", "file", "file-site", "under-file"])
def test_a_missing_or_non_directory_data_dir_is_said_exit_1_nothing_created(tmp_path, case):
    blocker = tmp_path / "un-fichier"
    blocker.write_text("à garder\n", encoding="utf-8")
    data_dir = {"absent": tmp_path / "absent", "absent-site": tmp_path / "absent",
                "file": blocker, "file-site": blocker,
                "under-file": blocker / "data"}[case]
    arguments = ("-a", f"website={SITE}") if case.endswith("-site") else ()
    shown = data_dir / SITE if arguments else data_dir
    before = tree(tmp_path)
    result = status(data_dir, *arguments)
    assert result.returncode == 1, result.stdout + result.stderr
    out = result.stdout
    assert str(shown) in out and "CRISP_DATA_DIR" in out, out
    if case.startswith("absent"):
        assert "Répertoire de données introuvable" in out and "n'existe pas" in out
        command = "scrapy crawl account" + (f" -a website={SITE}" if arguments else "")
        assert f"lancez d'abord « {command} »" in out
        assert f"({{CRISP_DATA_DIR}}/{SITE})" in out if arguments else "(CRISP_DATA_DIR)" in out
    else:
        assert "n'est pas un répertoire" in out
        if case != "file":
            assert f"{blocker} est un fichier" in out
    # Ni l'ancien « 0 conversation listée », ni de trace, ni d'anglais.
    assert "Conversations listées" not in out and "Traceback" not in result.stderr
    assert "Not a directory" not in out and "No such file" not in out
    assert tree(tmp_path) == before


def test_complete_account_with_failed_attachments_says_so_with_exit_0(sandbox, data_dir):
    truth = file_truth(sandbox, seed=1)
    missing = sorted(key for key, kind in truth.items() if kind == "missing")
    assert len(missing) >= 2  # le bac à sable (graine 1) en a : sans eux, rien à vérifier
    done = run_crawl("account", data_dir, sandbox.env())
    assert done.returncode == 0, done.log[-3000:]  # des pièces en échec : toujours 0
    index = read_jsonl(data_dir / "conversations" / "fichiers.jsonl")
    failed = sorted((line["session_id"], line["fingerprint"]) for line in index
                    if line["status"] != "ok")
    assert failed == missing
    assert {line["status"] for line in index if line["status"] != "ok"} == {"http_404"}
    before = tree(data_dir)

    result = status(data_dir)
    assert result.returncode == 0, result.stdout + result.stderr
    text = f"{len(missing)} pièces jointes en échec (retentées au prochain lancement)"
    assert f"  Compte complet, {text} : " in result.stdout
    assert result.stdout.rstrip().endswith(f"Fin : compte complet, {text}.")
    assert "compte complet et à jour" not in result.stdout

    # Limite d'essais à 1 : les mêmes pièces sont abandonnées (plus jamais retentées).
    dropped = status(data_dir, "-s", "CRISP_FILES_MAX_ATTEMPTS=1")
    assert dropped.returncode == 0, dropped.stdout + dropped.stderr
    assert dropped.stdout.rstrip().endswith(
        f"Fin : compte complet, {len(missing)} pièces jointes abandonnées (refus définitif ou "
        "CRISP_FILES_MAX_ATTEMPTS atteint : plus jamais demandées).")
    assert "en échec" not in dropped.stdout
    assert tree(data_dir) == before  # lecture seule


def test_status_of_an_exported_site_and_a_site_never_exported(sandbox_factory, data_dir):
    sandbox = sandbox_factory(seed=2, conversations=8, websites=2)
    first, other = sandbox.websites
    env = {name: value for name, value in sandbox.env().items() if name != "ID_SITE_CRISP"}
    done = run_crawl("account", data_dir, env, args={"website": first})
    assert done.returncode == 0, done.log[-3000:]
    answer = status(data_dir, "-a", f"website={first}")
    assert answer.returncode == 0, answer.stdout + answer.stderr
    assert "Fin : compte complet" in answer.stdout
    never = status(data_dir, "--website", other)
    assert never.returncode == 1
    assert f"{data_dir / other} ({{CRISP_DATA_DIR}}/{other}) n'existe pas" in never.stdout
    assert f"« scrapy crawl account -a website={other} »" in never.stdout
    assert sorted(path.name for path in data_dir.iterdir()) == [first]
