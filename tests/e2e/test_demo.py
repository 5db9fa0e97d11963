"""``make demo`` : l'export de bout en bout contre le bac à sable (conversations -> messages -> users),
puis ninja et wanzo contre leurs doublures."""

from __future__ import annotations

import json
import subprocess
import sys

from tests.support.crawling import ROOT, read_jsonl


def test_demo_runs_the_three_exports_end_to_end(tmp_path):
    data_dir = tmp_path / "demo"
    result = subprocess.run(
        [sys.executable, "-m", "crispsandbox.demo", "--data-dir", str(data_dir),
         "--conversations", "25"],
        cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    names = ("conversations", "messages", "users", "ninja", "wanzo")
    positions = [out.index(f"$ scrapy crawl {name}") for name in names]
    assert positions == sorted(positions)
    # Chaque export dit ce qui reste du compte ; après le dernier, il est complet.
    assert out.count("Fin : exécution terminée ; il reste") == 2
    # Compte complet ; les pièces jointes qui répondent 404 (le bac à sable en sert) à part.
    index = {(line["session_id"], line["fingerprint"]): line["status"]
             for line in read_jsonl(data_dir / "conversations" / "fichiers.jsonl")}
    failed = sum(1 for status in index.values() if status != "ok")
    files = "pièce jointe" if failed == 1 else "pièces jointes"
    end = (f"Fin : compte complet, {failed} {files} en échec (retentées au prochain lancement)."
           if failed else "Fin : compte complet et à jour.")
    assert out.rindex(end) > positions[2]
    # Les deux autres systèmes, chacun contre sa doublure.
    assert out.count("Fin : export terminé.") == 2
    for system, listing in (("ninja", "conversations.jsonl"), ("wanzo", "contexts.jsonl")):
        assert len(read_jsonl(data_dir / system / listing)) == 25
        assert list((data_dir / system / "messages").glob("*.jsonl"))
    conversations = read_jsonl(data_dir / "conversations" / "conversations.jsonl")
    assert len(conversations) == 25
    messages = sorted((data_dir / "conversations" / "messages").glob("*.jsonl"))
    assert sorted(p.stem for p in messages) == sorted(c["session_id"] for c in conversations)
    profiles = read_jsonl(data_dir / "utilisateurs" / "utilisateurs.jsonl")
    assert profiles and all("email" in p for p in profiles)
    assert f"Fichiers exportés dans {data_dir}" in out
    json.loads((data_dir / "conversations" / "messages" / "messages.jsonl.state.json").read_text())
    # La démonstration finit par la base d'analyse et le rapport, et dit où ils sont.
    assert out.rindex("$ scrapy report") > positions[-1]
    assert f"rapport : {data_dir / 'analyse' / 'rapport.html'}" in out
    assert (data_dir / "analyse" / "crisp.duckdb").is_file()
