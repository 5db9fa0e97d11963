"""Vérifications communes des exports ninja et wanzo contre la vérité de leur doublure."""

from __future__ import annotations

import json
from pathlib import Path

from bench.chat import list_pages as bench_list_pages
from bench.chat import minimum_calls  # noqa: F401  (réexporté pour les tests)
from crispscrape.sources.base import iso_time
from crispscrape.sources.ninja import NINJA
from crispscrape.sources.wanzo import WANZO
from tests.support.crawling import read_jsonl

SOURCES = {"ninja": NINJA, "wanzo": WANZO}


def expected_file(system: str, messages: list[dict]) -> list[dict]:
    """Le contenu attendu d'un fichier de messages, d'après les messages dans l'ordre de l'API."""
    if system == "ninja":
        return sorted(messages, key=lambda m: (iso_time(m["date"]), m["id"]), reverse=True)
    # Wanzo : par timestamp décroissant ; ex aequo dans l'inverse de l'ordre de l'API.
    ordered = sorted(messages, key=lambda m: iso_time(m["timestamp"]))
    ordered.reverse()
    return ordered


def message_file(system: str, data_dir: Path, conversation_id: str) -> Path:
    name = SOURCES[system].model.file_name(conversation_id)
    return Path(data_dir) / system / "messages" / name


def export_problems(system: str, data_dir: Path, truth: dict) -> list[str]:
    """Écarts entre l'export et la vérité (liste vide : export exact, fichiers triés)."""
    problems = []
    for conversation_id, messages in truth["messages"].items():
        path = message_file(system, data_dir, conversation_id)
        got = read_jsonl(path) if path.exists() else []
        if got != expected_file(system, messages):
            ids = [m["id"] for m in got]
            problems.append(f"{conversation_id!r}: {len(got)} lignes (uniques : {len(set(ids))}) "
                            f"pour {len(messages)} attendues")
    listing = Path(data_dir) / system / SOURCES[system].model.listing_name
    lines = read_jsonl(listing)
    model = SOURCES[system].model
    ids = [model.conversation_id(line) for line in lines]
    if len(ids) != len(set(ids)):
        problems.append("liste : identifiants en double")
    wanted = {model.conversation_id(c) for c in truth["conversations"]}
    if not wanted <= set(ids):
        problems.append(f"liste : {len(wanted - set(ids))} conversation(s) manquante(s)")
    return problems


def list_pages(system: str, truth: dict) -> int:
    return bench_list_pages(system, len(truth["conversations"]))


def dump(obj) -> str:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False)
