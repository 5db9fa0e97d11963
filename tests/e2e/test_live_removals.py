"""Ce que Crisp supprime pendant que le direct tourne (issue 22, §3 ; issue 21) : effacé
sans attendre l'arrêt, sans trace dans aucun fichier ; ``scrapy forget`` refusé tant que le
direct tient le site, puis, une fois le direct arrêté, il efface aussi le journal.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.e2e.test_live import journal, stop, wait_for
from tests.e2e.test_live_apply import SETTINGS, connected, exported, fingerprints, messages_file
from tests.support.crawling import ROOT, crawl_env, start_crawl


def mentions(data_dir: Path, value: str, skip: tuple[str, ...] = ("suppressions.jsonl",)) -> list[str]:
    """Les fichiers de l'export qui contiennent ``value`` (le registre des suppressions, qui
    ne garde que des identifiants, mis à part)."""
    found = []
    for path in sorted(data_dir.rglob("*")):
        if path.is_file() and path.name not in skip and value.encode() in path.read_bytes():
            found.append(str(path.relative_to(data_dir)))
    return found


def forget(data_dir: Path, sandbox, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(ROOT / ".venv/bin/python"), "-m", "scrapy", "forget", *args],
                          cwd=ROOT, env=crawl_env(sandbox.env(), data_dir), capture_output=True,
                          text=True, timeout=120)


def test_a_conversation_removed_at_crisp_leaves_no_trace_while_live_runs(sandbox, tmp_path):
    data_dir = exported(sandbox, tmp_path, "data")
    truth = sandbox.admin("/_admin/truth/conversations")
    removed, kept, person = (truth[i]["session_id"] for i in (3, 4, 6))
    stats_file = tmp_path / "live-stats.json"
    process = start_crawl("live", data_dir, sandbox.env(), settings=SETTINGS,
                          stats_file=stats_file)
    try:
        connected(sandbox)
        # Un message de plus dans chacune (donc des événements au journal), puis la
        # suppression chez Crisp.
        for session_id in (removed, person):
            sandbox.admin(f"/_admin/conversations/{session_id}/messages", method="POST",
                          json={"count": 1})
        wait_for(lambda: {removed, person} <= {r["data"].get("session_id")
                                               for r in journal(data_dir)}, 5, "journalisés")
        sandbox.admin(f"/_admin/conversations/{removed}/delete", method="POST")
        wait_for(lambda: not mentions(data_dir, removed), 30, "effacement pendant le direct")
        assert not messages_file(data_dir, removed).exists()
        # Les autres conversations ne bougent pas, et le direct continue.
        before = fingerprints(data_dir, kept)
        [added] = sandbox.admin(f"/_admin/conversations/{kept}/messages", method="POST",
                                json={"count": 1})
        wait_for(lambda: added["fingerprint"] in fingerprints(data_dir, kept), 5, "direct vivant")
        assert set(before) < set(fingerprints(data_dir, kept))

        # Un profil supprimé chez Crisp : sa ligne part aussi, sans attendre l'arrêt.
        users = data_dir / "utilisateurs" / "utilisateurs.jsonl"
        people_id = json.loads(users.read_text().splitlines()[0])["people_id"]
        sandbox.admin(f"/_admin/profiles/{people_id}/delete", method="POST")
        wait_for(lambda: people_id not in users.read_text(), 30, "profil effacé")

        # Tant que le direct tient le site, « scrapy forget » est refusé et dit quoi faire.
        refused = forget(data_dir, sandbox, "--session", person)
        assert refused.returncode == 1, refused.stdout + refused.stderr
        assert "arrêtez-le d'abord" in refused.stdout
    finally:
        out, stats = stop(process, stats_file)
    assert process.returncode == 0, out[-3000:]
    assert stats["removed/conversations"] == 1 and stats["removed/erased"] >= 1
    # Rien n'est revenu à la fermeture des magasins.
    assert mentions(data_dir, removed) == []
    # Le profil et ses événements (ses conversations, elles, existent toujours chez Crisp).
    assert not [p for p in mentions(data_dir, people_id)
                if p.startswith(("utilisateurs/", "evenements/"))]
    registry = [json.loads(line) for line in
                (data_dir / "suppressions.jsonl").read_text().splitlines()]
    assert [(r["kind"], r["id"], r["evidence"]) for r in registry] == [
        ("conversation", removed, "événement session:removed (direct)"),
        ("profile", people_id, "événement people:profile:removed (direct)")]

    # Direct arrêté : l'oubli efface aussi les événements journalisés de la personne.
    assert mentions(data_dir, person)
    assert forget(data_dir, sandbox, "--session", person).returncode == 0
    assert mentions(data_dir, person, skip=("suppressions.jsonl", "oublis.jsonl")) == []
