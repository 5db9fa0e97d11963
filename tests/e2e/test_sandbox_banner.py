"""La bannière de ``python -m crispsandbox`` : ses lignes, collées telles quelles à la racine du
projet dans un shell où l'environnement virtuel n'est PAS activé, exportent le bac à sable.

Seul le répertoire des données est détourné vers un dossier temporaire. On vérifie le code de
sortie et les fichiers produits, pas le texte du journal (son format peut changer).
"""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from tests.support.crawling import communicate_or_kill, read_jsonl
from tests.support.sandbox_process import ROOT, start_sandbox

CONVERSATIONS = 4
# Un shell ordinaire, sans le venv : les répertoires système, sauf ceux qui offriraient un
# « scrapy » (la commande nue doit y être introuvable pour que le test ait un sens).
SYSTEM_PATH = os.pathsep.join(
    folder for folder in ("/usr/local/bin", "/usr/bin", "/bin")
    if os.path.isdir(folder) and shutil.which("scrapy", path=folder) is None
)


def banner_script(banner: str, data_dir) -> tuple[str, list[str]]:
    """Les lignes à coller (export puis commandes) ; CRISP_DATA_DIR pointé vers ``data_dir``."""
    start = banner.index("Pour exporter ce bac à sable")
    lines = [line.strip() for line in banner[start:].splitlines()[1:]]
    pasted = []
    for line in lines:
        if not line or line.startswith(("Arrêt", "Administration")):
            break
        if line.startswith("export CRISP_DATA_DIR="):
            line = f"export CRISP_DATA_DIR={data_dir}"
        pasted.append(line)
    exports = [line for line in pasted if line.startswith("export ")]
    commands = [line for line in pasted if not line.startswith("export ")]
    return exports, commands


def run_pasted(script: str, environment: dict, timeout: float = 240) -> subprocess.CompletedProcess:
    """``bash -c script`` depuis la racine du projet ; tout le groupe est tué s'il traîne."""
    process = subprocess.Popen([shutil.which("bash") or "/bin/bash", "-c", script], cwd=ROOT,
                               env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, start_new_session=True)
    stdout, stderr = communicate_or_kill(process, timeout, "commandes collées")
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


@pytest.mark.parametrize("tier", ["plugin", "website"])
def test_banner_lines_export_from_an_unactivated_shell(tier, tmp_path):
    data_dir = tmp_path / "donnees"
    with start_sandbox(seed=5, conversations=CONVERSATIONS, tier=tier) as sandbox:
        banner = sandbox.logs()
        exports, commands = banner_script(banner, data_dir)
        assert f"niveau « {tier} »" in banner  # le niveau attendu est annoncé
        assert ("export CRISP_TOKEN_TIER=website" in exports) == (tier == "website")
        assert f"export CRISP_API_URL={sandbox.url}" in exports
        crawl = next(line for line in commands if " crawl account" in line)
        status = next(line for line in commands if " status" in line)
        # Ni « scrapy » nu (introuvable sans venv), ni chemin absolu : le venv du projet.
        assert crawl.startswith(".venv/bin/scrapy ") and status.startswith(".venv/bin/scrapy ")
        assert shutil.which("scrapy", path=SYSTEM_PATH) is None
        script = "\n".join(["set -e", *exports, crawl, status])
        environment = {"PATH": SYSTEM_PATH, "HOME": os.environ.get("HOME", str(tmp_path)),
                       "LANG": "C.UTF-8"}
        result = run_pasted(script, environment)
        calls = sandbox.admin("/_admin/stats")["by_status"]
    assert result.returncode == 0, (script, result.stdout[-3000:], result.stderr[-3000:])
    # Le crawl a bien parlé à ce bac à sable, sans refus d'authentification.
    assert calls.get("200", 0) > 0 and "401" not in calls and "403" not in calls, calls
    conversations = read_jsonl(data_dir / "conversations" / "conversations.jsonl")
    assert len(conversations) == CONVERSATIONS
    messages = {path.stem for path in (data_dir / "conversations" / "messages").glob("*.jsonl")}
    assert messages == {conversation["session_id"] for conversation in conversations}
    assert read_jsonl(data_dir / "utilisateurs" / "utilisateurs.jsonl")
