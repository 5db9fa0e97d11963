"""Fixtures partagées des tests de bout en bout du rapport (test_report*.py)."""

from __future__ import annotations

import shutil

import pytest

from tests.support.crawling import run_crawl
from tests.support.sandbox_process import start_sandbox


@pytest.fixture(scope="session")
def report_export(tmp_path_factory):
    """Un compte de 30 conversations exporté une fois (scrapy crawl account) ; chaque test en
    reçoit une copie. Renvoie (répertoire, vérité des conversations, vérité des messages)."""
    sandbox = start_sandbox(seed=3, conversations=30)
    try:
        data_dir = tmp_path_factory.mktemp("export") / "data"
        result = run_crawl("account", data_dir, sandbox.env(), timeout=300)
        assert result.returncode == 0, result.log[-3000:]
        conversations = sandbox.admin("/_admin/truth/conversations")
        messages = {c["session_id"]: sandbox.admin(f"/_admin/truth/messages/{c['session_id']}")
                    for c in conversations}
    finally:
        sandbox.stop()
    return data_dir, conversations, messages


@pytest.fixture
def report_account(report_export, tmp_path):
    source, conversations, messages = report_export
    data_dir = tmp_path / "data"
    shutil.copytree(source, data_dir)
    return data_dir, conversations, messages
