"""crispsandbox.process.repository_root : la copie des sources est reconnue, et son absence
est dite clairement, en français, avant tout lancement.
"""

from __future__ import annotations

import importlib.util
import shutil

import pytest

from crispsandbox.process import repository_root
from tests.support.crawling import ROOT


def test_repository_root_is_the_source_checkout():
    root = repository_root()
    assert root == ROOT
    assert (root / "scrapy.cfg").is_file() and (root / "crispscrape" / "__init__.py").is_file()


def test_outside_a_source_checkout_the_error_says_so(tmp_path):
    # Le module tel quel, copié hors du dépôt (il ne dépend que de la bibliothèque standard).
    package = tmp_path / "crispsandbox"
    package.mkdir()
    shutil.copy(ROOT / "crispsandbox" / "process.py", package / "process.py")
    spec = importlib.util.spec_from_file_location("copie_de_process", package / "process.py")
    copied = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(copied)

    with pytest.raises(copied.SourceCheckoutError) as error:
        copied.repository_root()
    message = str(error.value)
    assert "copie des sources du dépôt crispscrape" in message
    assert str(tmp_path) in message
    assert "scrapy.cfg" in message and "crispscrape/__init__.py" in message

    sandbox = copied.SandboxProcess()
    try:
        with pytest.raises(copied.SourceCheckoutError):
            sandbox.start()  # refusé avant de lancer quoi que ce soit
        assert sandbox.process is None
    finally:
        sandbox.stop()
