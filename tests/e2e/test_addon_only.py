"""Un projet Scrapy qui n'active que l'add-on crispscrape (aucun réglage du projet) exporte
correctement contre une API qui ralentit : authentification, ralentissement, statistiques.

Sans l'add-on, le même crawl s'arrête au premier appel (401 : pas d'authentification) ;
avant l'add-on, un composant pris hors du projet lisait CRISP_THROTTLE_MAX_TOTAL_WAIT = 0
et s'arrêtait au premier 429.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.support.crawling import ROOT
from tests.support.messages_support import assert_matches_truth, write_conversations

SETTINGS_MODULE = 'ADDONS = {"crispscrape.addon.CrispAddon": 0}\n'


def test_a_project_with_only_the_addon_exports_through_throttling(sandbox_factory, tmp_path):
    sandbox = sandbox_factory(seed=6, conversations=20, rate_limit=8)
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    conversations = write_conversations(sandbox, data_dir)
    project = tmp_path / "autre_projet"  # ni scrapy.cfg, ni réglages de crispscrape
    project.mkdir()
    (project / "reglages_autre_projet.py").write_text(SETTINGS_MODULE, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CRISP_", "ID_SITE_CRISP"))}
    env.update(sandbox.env())
    env.update(CRISP_DATA_DIR=str(data_dir), SCRAPY_SETTINGS_MODULE="reglages_autre_projet",
               PYTHONPATH=os.pathsep.join([str(project), str(ROOT)]))
    stats_file = tmp_path / "stats.json"
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "runspider", str(ROOT / "crispscrape/spiders/messages.py"),
         "-a", "nb=100", "-s", f"CRISP_STATS_FILE={stats_file}"],
        cwd=project, env=env, capture_output=True, text=True, timeout=180)
    log = result.stdout + result.stderr
    assert result.returncode == 0, log[-3000:]
    assert "crispscrape.addon.CrispAddon" in log  # « Enabled addons » de Scrapy
    stats = json.loads(stats_file.read_text())  # StatsFile, branché par l'add-on
    assert stats["finish_reason"] == "finished", log[-3000:]
    assert stats["crisp_api/requests"] > 0  # authentification de l'add-on
    assert stats["crisp_throttle/throttled"] > 0 and stats["crisp_throttle/wait_seconds"] > 0
    assert "crisp_throttle/quota_exceeded" not in stats
    assert stats.get("crisp_api/failed", 0) == 0
    assert_matches_truth(sandbox, data_dir, [c["session_id"] for c in conversations])
