"""État des messages en mémoire compacte (paging/done.py) : mêmes octets, même contenu."""

from __future__ import annotations

import json

import pytest

from crispscrape.model import activity_marker
from crispscrape.status import AccountStatus
from crispscrape.paging.cursor import MessagesCursor
from crispscrape.paging.done import CHUNK, DoneMarks, parse_state
from crispscrape.storage.files import StorageError

# Entrées ordinaires et entrées inattendues (état écrit à la main, versions anciennes) : les
# secondes sont gardées telles quelles, jamais réinterprétées.
ENTRIES = {
    "session_a": ["0123456789abcdef", 1234],
    "session_b": ["fedcba9876543210", None],
    "session_c": ["00000000000000ff", 0],
    "sans-empreinte-hex": ["ancienne-empreinte", 5],
    "majuscules": ["0123456789ABCDEF", 5],
    "taille-flottante": ["0123456789abcdef", 5.0],
    "taille-booleenne": ["0123456789abcdef", True],
    "taille-negative": ["0123456789abcdef", -1],
    "trop-grand": ["0123456789abcdef", 2 ** 60],
    "entier-seul": 7,
    "trois-champs": ["0123456789abcdef", 1, 2],
    "nul": None,
    "clé « accentuée » \"citée\"\n": ["0123456789abcdef", 3],
}


def compact(obj) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


def test_entries_come_back_exactly_as_written():
    marks = DoneMarks.from_mapping(ENTRIES)
    assert dict(marks.items()) == ENTRIES
    assert list(dict(marks.items())) == list(ENTRIES)
    assert marks.get("session_a") == ["0123456789abcdef", 1234]
    assert marks.get("absente") is None and "absente" not in marks
    assert marks.get("entier-seul") == 7


@pytest.mark.parametrize("count", [0, 1, CHUNK - 1, CHUNK, CHUNK + 1, 2 * CHUNK + 3])
def test_written_bytes_are_those_of_json_dumps(count):
    entries = dict(ENTRIES)
    for number in range(count):
        entries[f"session_{number}"] = [f"{number * 7919:016x}", number if number % 3 else None]
    marks = DoneMarks.from_mapping(entries)
    assert "".join(marks.json_chunks()) == compact(entries)


@pytest.mark.parametrize("dump", [compact, json.dumps, lambda obj: json.dumps(obj, indent=2)])
def test_state_files_of_every_layout_are_read(dump):
    """L'état écrit par les versions précédentes (indenté, compact) est lu tel quel."""
    state = {"format": 2, "next_index": 4, "next_session_id": "session_b",
             "incomplete": {"session_x": 17}, "done": ENTRIES}
    data = parse_state(dump(state))
    assert isinstance(data["done"], DoneMarks) and dict(data["done"].items()) == ENTRIES
    assert {k: v for k, v in data.items() if k != "done"} == \
        {k: v for k, v in state.items() if k != "done"}


@pytest.mark.parametrize("text", ["", "{", '{"done": {"a": [1, 2]}', '{"a": 1} x', "{'a': 1}",
                                  '\ufeff{"a": 1}', '{"a" 1}', '{"a": 1,}'])
def test_invalid_json_fails_like_json_loads(text):
    with pytest.raises(ValueError) as ours:
        parse_state(text)
    with pytest.raises(ValueError) as reference:
        json.loads(text)
    assert str(ours.value) == str(reference.value)


def test_cursor_migrates_an_old_indented_state_and_rewrites_it_compact(tmp_path):
    path = tmp_path / "messages.jsonl.state.json"
    old = {"next_index": 3, "incomplete": {"session_x": None}, "done": ENTRIES}
    path.write_text(json.dumps(old, indent=2), encoding="utf-8")
    cursor = MessagesCursor(path)
    cursor.load(reset=False)
    assert dict(cursor.done.items()) == ENTRIES and cursor.next_index == 3
    cursor.done.set("session_new", "aaaaaaaaaaaaaaaa", 9)
    cursor.save()
    expected = {"format": 2, "next_index": 3, "next_session_id": None,
                "incomplete": {"session_x": None},
                "done": {**ENTRIES, "session_new": ["aaaaaaaaaaaaaaaa", 9]}}
    assert path.read_text(encoding="utf-8") == compact(expected) + "\n"


def test_cursor_refuses_a_done_that_is_not_an_object(tmp_path):
    path = tmp_path / "messages.jsonl.state.json"
    path.write_text('{"next_index": 0, "done": [1, 2]}', encoding="utf-8")
    with pytest.raises(StorageError, match="« done » des objets"):
        MessagesCursor(path).load(reset=False)


def test_valid_state_is_read_in_stream_without_json_loads(monkeypatch):
    """Lecture en flux : json.loads (qui construirait une liste par entrée) n'est pas appelé."""
    text = compact({"next_index": 1, "done": ENTRIES, "incomplete": {}})

    def whole_file_read(*args, **kwargs):
        raise AssertionError("json.loads appelé sur tout l'état")

    monkeypatch.setattr(json, "loads", whole_file_read)
    assert dict(parse_state(text)["done"].items()) == ENTRIES


def test_account_status_from_memory_equals_status_from_the_file(tmp_path):
    """L'export des messages donne son état en mémoire au bilan : mêmes chiffres que le fichier."""
    root = tmp_path / "conversations"
    (root / "messages").mkdir(parents=True)
    listing = [{"session_id": f"session_{n}", "updated_at": 1000 + n} for n in range(6)]
    (root / "conversations.jsonl").write_text("".join(compact(c) + "\n" for c in listing),
                                              encoding="utf-8")
    (root / "messages" / "session_0.jsonl").write_text("{}\n", encoding="utf-8")
    (root / "messages" / "session_1.jsonl").write_text("{}\n", encoding="utf-8")
    done = {"session_0": [activity_marker(listing[0]), 3],  # à jour
            "session_1": ["0000000000000000", 3],  # changée
            "session_2": [activity_marker(listing[2]), 3]}  # fichier disparu
    state = {"next_index": 0, "incomplete": {"session_3": None}, "done": done}
    (root / "messages" / "messages.jsonl.state.json").write_text(compact(state), encoding="utf-8")
    from_file = AccountStatus.read(tmp_path, lookback_days=0)
    in_memory = AccountStatus.read(tmp_path, lookback_days=0, messages_state={
        "done": DoneMarks.from_mapping(done), "incomplete": {"session_3": None}})
    assert (from_file.current, from_file.changed, from_file.incomplete, from_file.never) \
        == (1, 2, 1, 2)
    assert in_memory == from_file
