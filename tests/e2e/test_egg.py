"""L'œuf du produit, construit comme le fait scrapyd-deploy : crispscrape seul, sans le bac à sable.

``scrapyd-deploy --build-egg``, lancé depuis une copie du projet (comme dans
tests/e2e/test_scrapyd.py), exécute ``setup.py clean -a`` puis ``setup.py bdist_egg`` à partir
du setup.py versionné : c'est l'œuf même qu'il enverrait à scrapyd, sans scrapyd ni envoi.
"""

from __future__ import annotations

import subprocess
import zipfile
from pathlib import PurePosixPath

import pytest

from tests.support.packaging import forbidden_imports
from tests.support.scrapyd_process import VENV_BIN, clean_environment, project_copy


@pytest.fixture(scope="module")
def egg(tmp_path_factory) -> dict[str, bytes]:
    """Contenu de l'œuf construit : chemin dans l'archive -> octets."""
    workspace = tmp_path_factory.mktemp("oeuf")
    copy = project_copy(workspace / "projet")
    target = workspace / "crispscrape.egg"
    environment = clean_environment({})
    # Aucun ~/.scrapy.cfg de la machine ne doit s'en mêler.
    environment["HOME"] = str(copy)
    environment.pop("XDG_CONFIG_HOME", None)
    result = subprocess.run(
        [str(VENV_BIN / "scrapyd-deploy"), "--build-egg", str(target)],
        cwd=copy, env=environment, capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, f"{result.stdout}\n{result.stderr}"
    with zipfile.ZipFile(target) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def modules(egg: dict[str, bytes]) -> list[str]:
    return sorted(name for name in egg if name.endswith(".py"))


def test_egg_holds_the_exporter_and_only_it(egg):
    names = modules(egg)
    for expected in ("crispscrape/__init__.py", "crispscrape/settings.py",
                     "crispscrape/spiders/messages.py", "crispscrape/jsonrpc/__init__.py"):
        assert expected in names
    assert {PurePosixPath(name).parts[0] for name in egg} == {"crispscrape", "EGG-INFO"}
    assert egg["EGG-INFO/top_level.txt"].decode().split() == ["crispscrape"]


def test_egg_has_no_sandbox_nor_demo(egg):
    sandbox = [name for name in egg
               if any("sandbox" in part for part in PurePosixPath(name).parts)]
    assert sandbox == []
    assert not [name for name in egg if PurePosixPath(name).stem == "demo"]


def test_no_module_of_the_egg_imports_the_sandbox_and_aiohttp_only_for_hooks(egg):
    offenders = {}
    for name in modules(egg):
        found = forbidden_imports(egg[name].decode("utf-8"), name)
        if found:
            offenders[name] = found
    # Le récepteur des web hooks du direct (chargé avec -a hooks seulement) : aiohttp est une
    # dépendance d'exécution figée dans requirements.txt (tests/unit/test_packaging.py).
    assert offenders == {"crispscrape/hooks.py": ["aiohttp"]}
    # setup.py ne déclare aucune dépendance : l'œuf n'en réclame donc aucune, aiohttp compris.
    assert "aiohttp" not in egg.get("EGG-INFO/requires.txt", b"").decode()
