"""Ce que Crisp supprime quitte l'export (issue 21) : crawls réels contre le bac à sable.

Un compte exporté (``account``, pièces jointes et base d'analyse comprises), puis une
conversation supprimée dans le bac à sable (route d'administration) : la revérification
(``-a verify=1``) la trouve en 404, UN appel le confirme, et selon CRISP_REMOVED elle est
effacée de chaque octet de l'export ou gardée en le notant ; dans les deux cas, plus aucun
appel ensuite. Une URL d'API fausse (404 partout) ne supprime rien.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from crispscrape.file_refs import session_dir
from tests.support.crawling import read_jsonl, run_crawl
from tests.support.messages_support import calls_by_session


def exported_account(sandbox_factory, data_dir, env_extra=None):
    sandbox = sandbox_factory(seed=1, conversations=20)
    env = {**sandbox.env(), **(env_extra or {})}
    result = run_crawl("account", data_dir, env, timeout=300)
    assert result.returncode == 0, result.log[-3000:]
    return sandbox, env


def with_attachments(data_dir: Path) -> str:
    """Une conversation qui a des pièces jointes sur disque (l'effacement doit les emporter)."""
    index = read_jsonl(data_dir / "conversations" / "fichiers.jsonl")
    return next(entry["session_id"] for entry in index if entry["status"] == "ok")


def build_report(data_dir: Path, env: dict) -> None:
    done = subprocess.run([sys.executable, "-m", "scrapy", "report"], env={**env_base(), **env,
                          "CRISP_DATA_DIR": str(data_dir)}, capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert (data_dir / "analyse" / "crisp.duckdb").is_file()


def env_base() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith("CRISP_")}


def files_containing(data_dir: Path, needle: bytes) -> list[str]:
    """Chaque fichier sous le répertoire de données dont un octet au moins contient ``needle``."""
    return sorted(str(p.relative_to(data_dir)) for p in data_dir.rglob("*")
                  if p.is_file() and needle in p.read_bytes())


def test_deleted_conversation_is_erased_from_every_file_and_never_asked_again(
        sandbox_factory, data_dir):
    sandbox, env = exported_account(sandbox_factory, data_dir)
    build_report(data_dir, env)
    gone = with_attachments(data_dir)
    assert "analyse/crisp.duckdb" in files_containing(data_dir, gone.encode())
    attachments = data_dir / "conversations" / "fichiers" / session_dir(gone)
    assert any(attachments.iterdir())
    others = [c["session_id"] for c in read_jsonl(data_dir / "conversations" /
                                                   "conversations.jsonl") if c["session_id"] != gone]
    sandbox.admin(f"/_admin/conversations/{gone}/delete", method="POST")
    sandbox.admin("/_admin/stats/reset", method="POST")

    result = run_crawl("messages", data_dir, env, args={"verify": 1, "nb": 100})
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["removed/conversations"] == 1
    assert result.stats["removed/erased"] == 1
    assert result.stats["removed/analysis_rebuilt"] == 1
    assert ("Supprimées chez Crisp (404 confirmé) : 1 conversation(s), effacées de l'export "
            "(CRISP_REMOVED=erase)") in " ".join(result.log.split())  # lignes repliées
    # Le 404 des messages, puis UN appel de confirmation sur la conversation elle-même ; les
    # autres, un appel chacune (revérification).
    assert calls_by_session(sandbox)[gone] == 1
    assert result.stats["removed/checks"] == 1
    assert sandbox.admin("/_admin/stats")["calls"] == len(others) + 2
    # Plus un octet d'elle nulle part, sauf son identifiant dans le registre.
    assert files_containing(data_dir, gone.encode()) == ["suppressions.jsonl"]
    assert not attachments.exists()
    [record] = read_jsonl(data_dir / "suppressions.jsonl")
    assert record["kind"] == "conversation" and record["id"] == gone
    assert record["policy"] == "erase"
    assert record["evidence"] == f"404 sur GET /v1/website/{sandbox.website_id}/conversation/{gone}"
    # Le reste de l'export est intact et toujours exact.
    listing = [c["session_id"] for c in read_jsonl(data_dir / "conversations" /
                                                    "conversations.jsonl")]
    assert listing == others
    for session_id in others:
        assert (data_dir / "conversations" / "messages" / f"{session_id}.jsonl").is_file()

    sandbox.admin("/_admin/stats/reset", method="POST")
    again = run_crawl("account", data_dir, env, timeout=300)
    assert again.returncode == 0, again.log[-3000:]
    assert gone not in calls_by_session(sandbox)
    assert "Compte complet" in again.log
    assert files_containing(data_dir, gone.encode()) == ["suppressions.jsonl"]


def test_keep_policy_keeps_the_files_notes_the_removal_and_asks_nothing_again(
        sandbox_factory, data_dir):
    sandbox, env = exported_account(sandbox_factory, data_dir, {"CRISP_REMOVED": "keep"})
    gone = with_attachments(data_dir)
    messages_file = data_dir / "conversations" / "messages" / f"{gone}.jsonl"
    before = messages_file.read_bytes()
    sandbox.admin(f"/_admin/conversations/{gone}/delete", method="POST")

    result = run_crawl("messages", data_dir, env, args={"verify": 1, "nb": 100})
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["removed/conversations"] == 1
    assert "removed/erased" not in result.stats
    assert "1 conversation(s), gardées ici (CRISP_REMOVED=keep)" in " ".join(result.log.split())
    assert messages_file.read_bytes() == before
    [record] = read_jsonl(data_dir / "suppressions.jsonl")
    assert (record["id"], record["policy"]) == (gone, "keep")

    sandbox.admin("/_admin/stats/reset", method="POST")
    again = run_crawl("messages", data_dir, env, args={"verify": 1, "nb": 100})
    assert again.returncode == 0, again.log[-3000:]
    assert gone not in calls_by_session(sandbox)
    assert again.stats["messages/ignored_removed"] == 1
    status = subprocess.run([sys.executable, "-m", "scrapy", "status"],
                            env={**env_base(), **env, "CRISP_DATA_DIR": str(data_dir)},
                            capture_output=True, text=True, timeout=120,
                            cwd=Path(__file__).resolve().parents[2])
    assert "1 conversation supprimée chez Crisp, gardée ici" in status.stdout, status.stdout
    assert messages_file.read_bytes() == before


@pytest.mark.parametrize("bad_url_suffix", ["/v9"])
def test_a_wrong_api_url_that_answers_404_everywhere_removes_nothing(
        sandbox_factory, data_dir, bad_url_suffix):
    sandbox, env = exported_account(sandbox_factory, data_dir)
    tree = {str(p): p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}
    wrong = {**env, "CRISP_API_URL": sandbox.url + bad_url_suffix}
    result = run_crawl("messages", data_dir, wrong, args={"verify": 1, "nb": 100})
    assert result.returncode != 0
    assert result.reason == "bad_api_url", result.log[-3000:]
    assert "semble fausse ; rien n'a été supprimé" in result.log
    assert not (data_dir / "suppressions.jsonl").exists()
    assert "removed/conversations" not in result.stats
    after = {str(p): p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}
    assert set(after) == set(tree)
    for path, content in tree.items():
        if not path.endswith(".state.json"):
            assert after[path] == content, path
