"""Choix des conversations qui reçoivent des appels (paging/selection.py), sans réseau."""

from __future__ import annotations

import json

from crispscrape.model import activity_marker
from crispscrape.paging.cursor import MessagesCursor
from crispscrape.paging.selection import DAY_MS, Policy, plan

NOW = 1_800_000_000_000


class Stats:
    def __init__(self):
        self.values = {}

    def inc_value(self, key, count=1):
        self.values[key] = self.values.get(key, 0) + count


def conversation(number, last=NOW - 30 * DAY_MS):
    return {"session_id": f"s{number}", "updated_at": last, "active": {"last": last}}


def setup(tmp_path, conversations, done=(), incomplete=()):
    path = tmp_path / "conversations.jsonl"
    path.write_text("".join(json.dumps(c) + "\n" for c in conversations), encoding="utf-8")
    directory = tmp_path / "messages"
    directory.mkdir()
    cursor = MessagesCursor(directory / "state.json")
    for c in conversations:
        if c["session_id"] in done:
            cursor.done.put_raw(c["session_id"], [activity_marker(c), 0])
            (directory / f"{c['session_id']}.jsonl").write_text("", encoding="utf-8")
    for session_id in incomplete:
        cursor.incomplete[session_id] = None
    return cursor, path, directory


def run(cursor, path, directory, nb=100, **policy):
    stats = Stats()
    chosen = [s for _, s in plan(cursor, path, nb, stats, Policy(now_ms=NOW, **policy), directory)]
    return chosen, stats.values


def test_policy_reasons():
    policy = Policy(now_ms=NOW, lookback_days=7)
    old = NOW - 30 * DAY_MS
    assert policy.reason(None, "m", None, None) == "new"
    assert policy.reason(["x", 10], "m", old, 10) == "changed"
    assert policy.reason(["m", 10], "m", old, 10) is None
    assert policy.reason(["m", 10], "m", old, 9) == "file_changed"  # tronqué hors de l'export
    assert policy.reason(["m", 10], "m", old, None) == "file_changed"  # effacé
    assert policy.reason(["m", None], "m", old, None) is None  # 404 : pas de fichier, rien à faire
    assert policy.reason(["m", 10], "m", NOW - 2 * DAY_MS, 10) == "lookback"
    assert Policy(now_ms=NOW, lookback_days=0).reason(["m", 1], "m", NOW, 1) is None
    assert Policy(now_ms=NOW, verify=True).reason(["m", 1], "m", old, 1) == "verify"


def test_unchanged_conversations_cost_nothing_and_do_not_count_in_nb(tmp_path):
    conversations = [conversation(i) for i in range(6)]
    cursor, path, directory = setup(tmp_path, conversations, done={"s0", "s1", "s2", "s4"})
    chosen, stats = run(cursor, path, directory, nb=2)
    assert chosen == ["s3", "s5"]
    assert stats["messages/unchanged"] == 4 and stats["messages/selected_new"] == 2


def test_changed_marker_and_missing_file_are_asked_again(tmp_path):
    conversations = [conversation(i) for i in range(3)]
    cursor, path, directory = setup(tmp_path, conversations, done={"s0", "s1", "s2"})
    cursor.done.put_raw("s1", ["ancienne-empreinte", 0])
    (directory / "s2.jsonl").unlink()
    chosen, stats = run(cursor, path, directory)
    assert chosen == ["s1", "s2"]
    assert stats["messages/selected_changed"] == 1 and stats["messages/selected_file_changed"] == 1


def test_resumed_incomplete_conversation_gets_its_marker_even_after_the_main_pass(tmp_path):
    """Une incomplète reprise est aussi rencontrée dans la boucle principale : la passer ne
    doit pas effacer l'empreinte attendue (sinon elle serait redemandée à chaque fois)."""
    conversations = [conversation(i) for i in range(3)]
    cursor, path, directory = setup(tmp_path, conversations, done={"s0", "s2"},
                                    incomplete={"s1"})
    chosen, _ = run(cursor, path, directory)
    assert chosen == ["s1"]
    cursor.settle(None, "s1", complete=True, size=5)
    assert cursor.done.get("s1") == [activity_marker(conversations[1]), 5]
    assert "s1" not in cursor.incomplete


def test_completed_conversation_records_the_marker_seen_when_it_was_chosen(tmp_path):
    conversations = [conversation(0)]
    cursor, path, directory = setup(tmp_path, conversations)
    run(cursor, path, directory)
    cursor.settle(0, "s0", complete=False)
    assert "s0" not in cursor.done
    run(cursor, path, directory)
    cursor.settle(0, "s0", complete=True, size=7)
    assert cursor.done.get("s0") == [activity_marker(conversations[0]), 7]
