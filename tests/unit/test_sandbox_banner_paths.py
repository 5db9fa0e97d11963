"""Commande ``scrapy`` de la bannière du bac à sable et liste des fichiers de ``make demo``.

Fonctions pures sur des arborescences temporaires (aucun serveur) : les tests de bout en bout
de la bannière sont dans tests/e2e/test_sandbox_banner.py.
"""

from __future__ import annotations

import os

from crispsandbox.banner import scrapy_command
from crispsandbox.demo import produced_files


def executable(path):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_script_next_to_the_interpreter_relative_to_the_root(tmp_path):
    python = executable(tmp_path / "projet" / ".venv" / "bin" / "python")
    executable(tmp_path / "projet" / ".venv" / "bin" / "scrapy")
    assert scrapy_command(str(python), root=tmp_path / "projet") == ".venv/bin/scrapy"


def test_script_outside_the_root_is_absolute_and_quoted(tmp_path):
    python = executable(tmp_path / "mon venv" / "bin" / "python")
    executable(tmp_path / "mon venv" / "bin" / "scrapy")
    command = scrapy_command(str(python), root=tmp_path / "projet")
    assert command == f"'{tmp_path / 'mon venv' / 'bin' / 'scrapy'}'"


def test_without_script_falls_back_to_the_interpreter(tmp_path):
    python = executable(tmp_path / "projet" / "env" / "bin" / "python")
    (tmp_path / "projet" / "env" / "bin" / "scrapy").write_text("")  # non exécutable : ignoré
    assert scrapy_command(str(python), root=tmp_path / "projet") == "env/bin/python -m scrapy"
    assert scrapy_command(str(python), root=None) == f"{python} -m scrapy"


def test_demo_listing_summarises_attachments(tmp_path):
    for name in ("conversations/conversations.jsonl", "conversations/messages/s1.jsonl",
                 "conversations/fichiers/s1/11-a.pdf", "conversations/fichiers/s1/12-b.png",
                 "conversations/fichiers/s2/13-c.txt", "conversations/fichiers/s2/.14-d.x1.tmp",
                 "conversations/fichiers.jsonl"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    lines = produced_files(tmp_path)
    assert "conversations/fichiers/ : 3 pièces jointes" in lines
    assert os.path.join("conversations", "fichiers.jsonl") in lines
    assert not any("11-a.pdf" in line for line in lines)  # une ligne pour tout le dossier


def test_demo_listing_without_attachments(tmp_path):
    (tmp_path / "conversations").mkdir()
    (tmp_path / "conversations" / "conversations.jsonl").write_text("")
    assert not any("fichiers/" in line for line in produced_files(tmp_path))
