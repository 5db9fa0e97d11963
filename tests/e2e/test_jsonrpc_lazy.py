"""scrapy-jsonrpc n'est importé que si JSON-RPC est activé.

Ses modules ne s'importent sous Scrapy 2 qu'avec des cales posées un instant dans Scrapy
(crispscrape/jsonrpc/shims.py) : un crawl sans JSON-RPC ne doit ni les payer ni les voir.
Le crawl tourne dans un sous-processus (vraie commande ``scrapy crawl``), qui rend à la fin
la liste des modules JSON-RPC chargés.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.support.crawling import ROOT, crawl_env
from tests.support.messages_support import write_conversations

PROBE = """
import json, sys
from scrapy.cmdline import execute
try:
    execute(sys.argv[1:])
except SystemExit as exit:
    code = exit.code
print("MODULES=" + json.dumps({"code": code,
                              "loaded": sorted(m for m in sys.modules if "jsonrpc" in m)}))
"""


def _crawl_modules(sandbox, data_dir, enabled: bool) -> dict:
    command = [sys.executable, "-c", PROBE, "scrapy", "crawl", "messages", "-a", "nb=3",
               "-s", f"JSONRPC_ENABLED={enabled}", "-s", "JSONRPC_PORT=0"]
    result = subprocess.run(command, cwd=ROOT, env=crawl_env(sandbox.env(), data_dir),
                            capture_output=True, text=True, timeout=120)
    line = next((line for line in result.stdout.splitlines() if line.startswith("MODULES=")),
                None)
    assert line is not None, result.stdout[-2000:] + result.stderr[-3000:]
    report = json.loads(line.removeprefix("MODULES="))
    assert report["code"] == 0, result.stderr[-3000:]
    return report


@pytest.mark.parametrize("enabled", [False, True])
def test_scrapy_jsonrpc_is_imported_only_when_enabled(sandbox, data_dir, enabled):
    write_conversations(sandbox, data_dir)
    loaded = _crawl_modules(sandbox, data_dir, enabled)["loaded"]
    if enabled:
        # Témoin : la sonde voit bien le paquet quand le service tourne.
        assert "scrapy_jsonrpc" in loaded and "crispscrape.jsonrpc.webservice" in loaded
    else:
        assert loaded == ["crispscrape.extensions.jsonrpc"], loaded
