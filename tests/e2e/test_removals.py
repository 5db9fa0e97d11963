"""Ce que Crisp supprime quitte l'export (issue 21) : crawls réels contre le bac à sable.

Un compte exporté (``account``, pièces jointes et base d'analyse comprises), puis une
conversation supprimée dans le bac à sable (route d'administration) : la revérification
(``-a verify=1``) la trouve en 404, UN appel le confirme, et selon CRISP_REMOVED elle est
effacée de chaque octet de l'export ou gardée en le notant ; dans les deux cas, plus aucun
appel ensuite. Une URL d'API fausse (404 partout) ne supprime rien.
"""

from __future__ import annotations

import json
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


def read_jsonl_bytes(content: bytes) -> list[dict]:
    return [json.loads(line) for line in content.splitlines() if line.strip()]


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
    # Le 404 des messages, puis UN appel de confirmation sur la conversation elle-même (les
    # autres sont relues en entier : leurs appels sont comptés par conversation).
    by_session = calls_by_session(sandbox)
    assert by_session[gone] == 1
    assert sorted(by_session) == sorted([*others, gone])
    assert result.stats["removed/checks"] == 1
    assert sandbox.admin("/_admin/stats")["calls"] == sum(by_session.values()) + 1
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
    # Le rapport le dit aussi (mêmes lignes que scrapy status).
    build_report(data_dir, env)
    page = (data_dir / "analyse" / "rapport.html").read_text(encoding="utf-8")
    assert "1 conversation supprimée chez Crisp, gardée ici" in page


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


@pytest.mark.parametrize("policy", ["erase", "keep"])
def test_a_message_deleted_in_crisp_is_seen_by_a_complete_reread(sandbox_factory, data_dir,
                                                                  policy):
    """Issue 21 : un message supprimé ne bouge pas l'activité de sa conversation ; la relecture
    complète (-a verify=1) ne le revoit plus. erase : le fichier est réécrit sans lui, égal à
    la vérité, et sa pièce jointe part (fichier et ligne de l'index) ; keep : tout reste.
    Noté au registre dans les deux cas."""
    sandbox, env = exported_account(sandbox_factory, data_dir, {"CRISP_REMOVED": policy})
    index_path = data_dir / "conversations" / "fichiers.jsonl"
    entry = next(e for e in read_jsonl(index_path) if e["status"] == "ok"
                 and len(sandbox.admin(f"/_admin/truth/messages/{e['session_id']}")) > 41)
    session_id, fingerprint = entry["session_id"], entry["fingerprint"]
    attachment = data_dir / entry["path"]
    assert attachment.is_file()
    path = data_dir / "conversations" / "messages" / f"{session_id}.jsonl"
    before = path.read_bytes()
    sandbox.admin(f"/_admin/conversations/{session_id}/messages/{fingerprint}/delete",
                  method="POST")

    result = run_crawl("messages", data_dir, env, args={"verify": 1, "nb": 100})
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats["removed/messages"] == 1
    assert "removed/conversations" not in result.stats
    [record] = read_jsonl(data_dir / "suppressions.jsonl")
    assert (record["kind"], record["id"], record["policy"]) == (
        "message", f"{session_id}:{fingerprint}", policy)
    indexed = {(e["session_id"], e["fingerprint"]) for e in read_jsonl(index_path)}
    if policy == "erase":
        truth = sandbox.admin(f"/_admin/truth/messages/{session_id}")
        kept = [m["fingerprint"] for m in read_jsonl(path)]
        assert sorted(kept) == sorted(m["fingerprint"] for m in truth)
        assert len(kept) == len(read_jsonl_bytes(before)) - 1
        assert not attachment.exists() and (session_id, fingerprint) not in indexed
        assert f'"fingerprint":{fingerprint},'.encode() not in path.read_bytes()
    else:
        assert path.read_bytes() == before
        assert attachment.is_file() and (session_id, fingerprint) in indexed


def test_another_websites_id_with_the_same_data_dir_removes_nothing(sandbox_factory, data_dir):
    """ID_SITE_CRISP changé, CRISP_DATA_DIR gardé : chaque conversation de l'export répond 404
    sur l'autre site, la confirmation aussi. La page 1 de la liste de ce site ne contient
    aucune conversation de l'export : arrêt wrong_website, rien n'est supprimé."""
    sandbox = sandbox_factory(seed=1, conversations=20, websites=2)
    first, other = sandbox.websites
    env = {**sandbox.env(), "ID_SITE_CRISP": first}
    assert run_crawl("account", data_dir, env, timeout=300).returncode == 0
    tree = {str(p): p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}
    result = run_crawl("messages", data_dir, {**env, "ID_SITE_CRISP": other},
                       args={"verify": 1, "nb": 100})
    assert result.reason == "wrong_website", result.log[-3000:]
    assert result.returncode == 1
    assert "ne contient aucune des conversations de l'export" in result.log
    assert not (data_dir / "suppressions.jsonl").exists()
    after = {str(p): p.read_bytes() for p in data_dir.rglob("*") if p.is_file()}
    assert {p for p in after if not p.endswith(".state.json")} == \
        {p for p in tree if not p.endswith(".state.json")}
    for path, content in tree.items():
        if not path.endswith(".state.json"):
            assert after[path] == content, path


@pytest.mark.parametrize("policy", ["erase", "keep"])
def test_a_profile_deleted_in_crisp_is_seen_by_its_recheck(sandbox_factory, data_dir, policy):
    """Issue 21 : un profil déjà exporté n'est redemandé qu'à la revérification (-a verify=1,
    un appel chacun) ; un 404 alors dit qu'il est supprimé. Noté sous son people_id (jamais
    l'e-mail) ; erase retire sa ligne, keep la garde ; plus aucun appel ensuite."""
    sandbox, env = exported_account(sandbox_factory, data_dir, {"CRISP_REMOVED": policy})
    users = data_dir / "utilisateurs" / "utilisateurs.jsonl"
    profiles = read_jsonl(users)
    victim = next(p for p in profiles if p.get("people_id") and p.get("email"))
    before = users.read_bytes()
    sandbox.admin(f"/_admin/profiles/{victim['people_id']}/delete", method="POST")
    sandbox.admin("/_admin/stats/reset", method="POST")

    result = run_crawl("account", data_dir, env, args={"verify": 1}, timeout=300)
    assert result.returncode == 0, result.log[-3000:]
    # Chaque profil redemandé par son e-mail, plus UNE confirmation par son people_id.
    assert sandbox.admin("/_admin/stats")["by_kind"]["people"] == len(profiles) + 1
    [record] = read_jsonl(data_dir / "suppressions.jsonl")
    assert (record["kind"], record["id"], record["policy"]) == (
        "profile", victim["people_id"], policy)
    assert victim["email"].encode() not in (data_dir / "suppressions.jsonl").read_bytes()
    if policy == "erase":
        left = read_jsonl(users)
        assert [p["people_id"] for p in left] == [p["people_id"] for p in profiles
                                                  if p is not victim]
    else:
        assert users.read_bytes() == before

    sandbox.admin("/_admin/stats/reset", method="POST")
    again = run_crawl("account", data_dir, env, timeout=300)
    assert again.returncode == 0, again.log[-3000:]
    assert sandbox.admin("/_admin/stats")["by_kind"]["people"] == 0
