"""Outils des tests du rapport : la commande ``scrapy report`` lancée comme un utilisateur
(sans identifiant) ; lecture de la base construite. L'export qu'ils lisent : fixtures
``report_export`` et ``report_account`` (tests/e2e/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from tests.support.crawling import ROOT, crawl_env


def run_report(data_dir: Path) -> subprocess.CompletedProcess:
    """La commande telle qu'un utilisateur la lance : aucun identifiant CRISP_* dans
    l'environnement, seulement CRISP_DATA_DIR."""
    env = crawl_env({}, data_dir)
    assert not any(name.startswith("CRISP_") and name != "CRISP_DATA_DIR" for name in env)
    assert "ID_SITE_CRISP" not in env
    return subprocess.run([sys.executable, "-m", "scrapy", "report"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)


def query(data_dir: Path, sql: str, params=None) -> list:
    connection = duckdb.connect(os.fspath(data_dir / "analyse" / "crisp.duckdb"), read_only=True)
    try:
        return connection.execute(sql, params or []).fetchall()
    finally:
        connection.close()


def count(data_dir: Path, table: str) -> int:
    return query(data_dir, f"SELECT count(*) FROM {table}")[0][0]
