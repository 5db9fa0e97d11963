"""Le produit sans le bac à sable, vu des sources : crispscrape n'importe jamais crispsandbox,
aiohttp seulement dans le récepteur des web hooks du direct (dépendance d'exécution figée
dans requirements.txt), et le bac à sable comme la démonstration vivent hors de crispscrape/.

L'œuf réellement construit est vérifié dans tests/e2e/test_egg.py.
"""

from __future__ import annotations

from tests.support.crawling import ROOT
from tests.support.packaging import forbidden_imports

PRODUCT = ROOT / "crispscrape"
# Seule exception permise : le récepteur des web hooks est un serveur aiohttp (issue 22),
# chargé par le seul direct lancé avec -a hooks.
ALLOWED = {"crispscrape/hooks.py": ["aiohttp"]}


def test_product_sources_never_import_the_sandbox_and_aiohttp_only_for_hooks():
    sources = sorted(PRODUCT.rglob("*.py"))
    assert len(sources) > 10, sources
    offenders = {}
    for path in sources:
        found = forbidden_imports(path.read_text(encoding="utf-8"), str(path))
        if found:
            offenders[str(path.relative_to(ROOT))] = found
    assert offenders == ALLOWED


def test_sandbox_and_demo_live_outside_the_product():
    assert not (PRODUCT / "sandbox").exists()
    assert not (PRODUCT / "demo.py").exists()
    assert (ROOT / "crispsandbox" / "__main__.py").is_file()
    assert (ROOT / "crispsandbox" / "demo.py").is_file()


def test_the_scan_catches_every_way_of_importing():
    """Le détecteur lui-même : sans cela, un balayage vide passerait pour une preuve."""
    source = (
        "import aiohttp.web\n"
        "from crispsandbox.process import start_sandbox\n"
        "import importlib\n"
        "importlib.import_module('crispsandbox.server')\n"
        "HANDLERS = {'http': 'aiohttp.client.Handler'}\n"
        "def later():\n"
        "    import aiohttp\n"
    )
    assert forbidden_imports(source) == [
        "aiohttp", "aiohttp.client.Handler", "aiohttp.web", "crispsandbox.process",
        "crispsandbox.server",
    ]
    harmless = ("import aiohttpx\nfrom crispscrape import api\nfrom . import sandboxes\n"
                "MESSAGE = 'aiohttp est requis par le bac à sable'\n")
    assert forbidden_imports(harmless) == []
