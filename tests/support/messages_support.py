"""Outils communs aux tests de l'export des messages : préparer l'entrée, comparer à la vérité."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.crawling import read_jsonl

BATCH = 40


def write_conversations(sandbox, data_dir: Path, conversations=None) -> list[dict]:
    """Écrit conversations.jsonl (entrée de l'export des messages) depuis la vérité du bac à sable."""
    if conversations is None:
        conversations = sandbox.admin("/_admin/truth/conversations")
    path = Path(data_dir) / "conversations" / "conversations.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(c, ensure_ascii=False) + "\n" for c in conversations),
                    encoding="utf-8")
    return conversations


def truth_sorted(sandbox, session_id: str) -> list[dict]:
    """Messages attendus dans le fichier : du plus récent au plus ancien, fingerprint décroissant."""
    messages = sandbox.admin(f"/_admin/truth/messages/{session_id}")
    return sorted(messages, key=lambda m: (m["timestamp"], m["fingerprint"]), reverse=True)


def messages_file(data_dir: Path, session_id: str) -> Path:
    return Path(data_dir) / "conversations" / "messages" / f"{session_id}.jsonl"


def assert_matches_truth(sandbox, data_dir: Path, session_ids) -> None:
    """Chaque fichier égale la vérité : nombre, fingerprints uniques, ordre, objets exacts."""
    for session_id in session_ids:
        path = messages_file(data_dir, session_id)
        assert path.is_file(), f"fichier manquant pour {session_id}"
        got = read_jsonl(path)
        expected = truth_sorted(sandbox, session_id)
        fingerprints = [m["fingerprint"] for m in got]
        assert len(fingerprints) == len(set(fingerprints)), f"doublons dans {session_id}"
        assert len(got) == len(expected), (session_id, len(got), len(expected))
        assert got == expected, f"contenu ou ordre différent pour {session_id}"


def calls_by_session(sandbox) -> dict:
    return sandbox.admin("/_admin/stats")["calls_by_session"]


def snapshot(directory: Path) -> dict:
    """Contenu et identité (inode, date) de chaque fichier : pour prouver qu'aucun n'a changé."""
    result = {}
    for path in sorted(Path(directory).glob("*.jsonl")):
        stat = path.stat()
        result[path.name] = (path.read_bytes(), stat.st_ino, stat.st_mtime_ns)
    return result


def minimum_calls(sandbox, session_ids) -> int:
    """Minimum théorique : ceil(messages/40) par conversation, 1 pour une vide."""
    total = 0
    for session_id in session_ids:
        count = len(sandbox.admin(f"/_admin/truth/messages/{session_id}"))
        total += max(1, -(-count // BATCH))
    return total
