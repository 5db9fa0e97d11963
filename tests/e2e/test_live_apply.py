"""Le direct applique les événements (issue 22, §3) : contre le RTM du bac à sable.

Un vrai ``scrapy crawl live`` sur un export fait par ``account`` :
- un message ajouté chez Crisp est dans son fichier en moins d'une seconde ; une
  modification remplace le contenu, une suppression retire la ligne ;
- une fois la conversation calme (CRISP_LIVE_SETTLE_MINUTES), sa relecture REST rend le
  fichier identique, octet pour octet, à celui d'un export neuf des mêmes données ;
- l'état est celui que lit ``account`` : ensuite, ``messages`` ne fait aucun appel ;
- un arrêt brutal (SIGKILL) en pleine application, puis un redémarrage : mêmes fichiers,
  rien de perdu ni de doublé.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

from tests.e2e.test_live import journal, stop, wait_for
from tests.support.crawling import communicate_or_kill, run_crawl, start_crawl

SETTINGS = {"CRISP_LIVE_SETTLE_MINUTES": "0.05", "CRISP_LIVE_LIST_MINUTES": "0.05"}


def messages_file(data_dir: Path, session_id: str) -> Path:
    return data_dir / "conversations" / "messages" / f"{session_id}.jsonl"


def lines(path: Path) -> list[dict]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def fingerprints(data_dir: Path, session_id: str) -> list[int]:
    return [m["fingerprint"] for m in lines(messages_file(data_dir, session_id))]


def exported(sandbox, tmp_path: Path, name: str) -> Path:
    data_dir = tmp_path / name
    result = run_crawl("account", data_dir, sandbox.env(), timeout=300)
    assert result.returncode == 0, result.log[-3000:]
    return data_dir


def tree(data_dir: Path, prefix: str = "conversations") -> dict[str, bytes]:
    """Les fichiers de données : liste, messages, pièces jointes. Ni les états (ils datent
    leurs écritures), ni l'index des pièces jointes, qui compte les essais de chaque
    exécution (``attempts`` : un export neuf n'en a fait qu'un)."""
    root = data_dir / prefix
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.name != "fichiers.jsonl" and not p.name.endswith(".state.json")}


def differences(mine: Path, fresh: Path) -> list[str]:
    a, b = tree(mine), tree(fresh)
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))


def settled_like(data_dir: Path, fresh: Path, timeout: float) -> None:
    """Attend que les fichiers du direct soient ceux d'un export neuf ; sinon, l'échec est
    dit après l'arrêt du direct, avec les fichiers qui diffèrent et son journal."""
    try:
        wait_for(lambda: tree(data_dir) == tree(fresh), timeout, "fichiers réglés")
    except AssertionError:
        pass


def connected(sandbox) -> None:
    wait_for(lambda: sandbox.admin("/_admin/rtm")["clients"] == 1, 30, "connexion")


def start_live(sandbox, data_dir: Path, tmp_path: Path, settings: dict = SETTINGS):
    """Un direct en sous-processus, connecté ; rend (processus, fichier de statistiques)."""
    stats_file = tmp_path / "live-stats.json"
    process = start_crawl("live", data_dir, sandbox.env(), settings=settings,
                          stats_file=stats_file)
    try:
        connected(sandbox)
    except BaseException:
        stop(process, stats_file)
        raise
    return process, stats_file


def test_events_on_disk_within_a_second_then_settled_identical_to_a_fresh_export(
        sandbox, tmp_path):
    data_dir = exported(sandbox, tmp_path, "data")
    stats_file = tmp_path / "live-stats.json"
    process = start_crawl("live", data_dir, sandbox.env(), settings=SETTINGS,
                          stats_file=stats_file)
    try:
        connected(sandbox)
        session_id = sandbox.admin("/_admin/truth/conversations")[5]["session_id"]
        before = fingerprints(data_dir, session_id)
        started = time.monotonic()
        added = sandbox.admin(f"/_admin/conversations/{session_id}/messages", method="POST",
                              json={"count": 2})
        wanted = {m["fingerprint"] for m in added}
        wait_for(lambda: wanted <= set(fingerprints(data_dir, session_id)), 5, "messages écrits")
        assert time.monotonic() - started < 1.0
        # Trié du plus récent au plus ancien, sans doublon.
        now = fingerprints(data_dir, session_id)
        assert len(now) == len(set(now)) == len(before) + 2
        stamps = [m["timestamp"] for m in lines(messages_file(data_dir, session_id))]
        assert stamps == sorted(stamps, reverse=True)

        edited_fp = before[3]
        sandbox.admin(f"/_admin/conversations/{session_id}/messages/{edited_fp}/edit",
                      method="POST", json={"content": "contenu modifié en direct"})
        wait_for(lambda: any(m["fingerprint"] == edited_fp
                             and m["content"] == "contenu modifié en direct"
                             for m in lines(messages_file(data_dir, session_id))), 5, "édition")
        removed_fp = before[4]
        sandbox.admin(f"/_admin/conversations/{session_id}/messages/{removed_fp}/delete",
                      method="POST")
        wait_for(lambda: removed_fp not in fingerprints(data_dir, session_id), 5, "suppression")

        # Calme depuis 3 s : relue par REST, le fichier devient celui d'un export neuf.
        fresh = exported(sandbox, tmp_path, "fresh")
        settled_like(data_dir, fresh, 30)
    finally:
        out, stats = stop(process, stats_file)
    assert tree(data_dir) == tree(fresh), (differences(data_dir, fresh), out[-6000:])
    assert process.returncode == 0, out[-3000:]
    assert stats["finish_reason"] == "live_stopped"
    assert stats["live/applied"] == stats["live/events"] == 4
    assert stats["live/settled"] >= 1
    assert tree(data_dir) == tree(fresh)
    registry = lines(data_dir / "suppressions.jsonl")
    assert [(r["kind"], r["id"]) for r in registry] == [("message", f"{session_id}:{removed_fp}")]
    state = json.loads((data_dir / "evenements" / "journal.state.json").read_text())
    assert state["applied"] == 4 and state["unsettled"] == {}

    # L'état est celui qu'``account`` lit : rien à relire (fenêtre de revérification à 0).
    result = run_crawl("messages", data_dir, sandbox.env(),
                       settings={"CRISP_MESSAGES_LOOKBACK_DAYS": "0"})
    assert result.returncode == 0, result.log[-3000:]
    assert result.stats.get("crisp_api/requests", 0) == 0, result.log[-3000:]


def test_sigkill_mid_apply_then_restart_gives_the_same_files(sandbox, tmp_path):
    data_dir = exported(sandbox, tmp_path, "data")
    truth = sandbox.admin("/_admin/truth/conversations")
    process = start_crawl("live", data_dir, sandbox.env(), settings=SETTINGS)
    try:
        connected(sandbox)
        for conversation in truth[:6]:
            sandbox.admin(f"/_admin/conversations/{conversation['session_id']}/messages",
                          method="POST", json={"count": 3})
        # Tué dès que le journal a commencé à se remplir : en pleine application.
        wait_for(lambda: len(journal(data_dir)) >= 2, 10, "événements journalisés")
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        communicate_or_kill(process, 30, "direct tué")
    assert process.returncode == -signal.SIGKILL
    wait_for(lambda: sandbox.admin("/_admin/rtm")["clients"] == 0, 10, "déconnexion")

    stats_file = tmp_path / "live-stats.json"
    process = start_crawl("live", data_dir, sandbox.env(), settings=SETTINGS,
                          stats_file=stats_file)
    try:
        connected(sandbox)
        fresh = exported(sandbox, tmp_path, "fresh")
        # Rejeu du journal, puis réconciliation (ce que la coupure a fait manquer).
        settled_like(data_dir, fresh, 60)
    finally:
        out, stats = stop(process, stats_file)
    assert tree(data_dir) == tree(fresh), (differences(data_dir, fresh), out[-6000:])
    assert process.returncode == 0, out[-3000:]
    records = journal(data_dir)
    state = json.loads((data_dir / "evenements" / "journal.state.json").read_text())
    assert state["applied"] == max(r["seq"] for r in records)
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))


def test_a_changed_profile_is_read_again_once_quiet(sandbox, tmp_path):
    data_dir = exported(sandbox, tmp_path, "data")
    users = data_dir / "utilisateurs" / "utilisateurs.jsonl"
    people_id = json.loads(users.read_text().splitlines()[2])["people_id"]
    stats_file = tmp_path / "live-stats.json"
    process = start_crawl("live", data_dir, sandbox.env(), settings=SETTINGS,
                          stats_file=stats_file)
    try:
        connected(sandbox)
        sandbox.admin(f"/_admin/profiles/{people_id}/edit", method="POST",
                      json={"person": {"nickname": "Nom changé en direct"}})
        wait_for(lambda: "Nom changé en direct" in users.read_text(), 30, "profil relu")
    finally:
        out, stats = stop(process, stats_file)
    assert process.returncode == 0, out[-3000:]
    assert stats["users/refreshed"] == 1 and stats["live/settled_profiles"] == 1
    fresh = exported(sandbox, tmp_path, "fresh")
    assert users.read_bytes() == (fresh / "utilisateurs" / "utilisateurs.jsonl").read_bytes()
