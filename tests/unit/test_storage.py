"""Stockage : lecteur JSONL unique, état des messages (curseur et migration), fusion et tri,
règle « incomplet noté avant l'écriture partielle », temporaires orphelins."""

from __future__ import annotations

import json
import logging

import pytest

from crispscrape.sources.crisp import CRISP_MODEL
from crispscrape.paging.cursor import MessagesCursor
from crispscrape.report.exchange import exchange_paths
from crispscrape.storage.files import StorageError, remove_stale_temporaries
from crispscrape.storage.jsonl import load_and_repair, read_lines
from crispscrape.storage.messages import MessageStore, OpenConversation
from crispscrape.storage.paths import check_output
from crispscrape.paging.selection import Policy

LOG = logging.getLogger("test")


class Stats:
    def __init__(self):
        self.values = {}

    def inc_value(self, key, count=1):
        self.values[key] = self.values.get(key, 0) + count


# --- Lecteur JSONL ------------------------------------------------------------------------------
def test_bom_and_latin1_lines_are_read_without_loss(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"session_id": "a"}\n{"session_id": "b", "n": "caf\xe9"}\n')
    lines = list(read_lines(path, "essai"))
    assert [line.obj["session_id"] for line in lines] == ["a", "b"]
    assert lines[1].obj["n"] == "café" and lines[1].recoded and not lines[0].recoded


def test_appended_file_with_bom_is_accepted_and_marked_for_rewrite(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"session_id": "a"}\n{"session_id": "b"}\n')
    content = load_and_repair(path, "essai", LOG)
    assert len(content.lines) == 2 and content.normalise


def test_truncated_last_line_is_removed_atomically(tmp_path):
    path = tmp_path / "c.jsonl"
    path.write_text('{"a": 1}\n{"a": 2}\n{"a": ', encoding="utf-8")
    content = load_and_repair(path, "essai", LOG)
    assert content.fragment == '{"a": '
    assert path.read_text(encoding="utf-8") == '{"a": 1}\n{"a": 2}\n'


def test_unreadable_middle_line_is_refused_and_file_untouched(tmp_path):
    path = tmp_path / "c.jsonl"
    original = b'{"a": 1}\nnot json\n{"a": 2}\n'
    path.write_bytes(original)
    with pytest.raises(StorageError, match="ligne 2"):
        load_and_repair(path, "essai", LOG)
    assert path.read_bytes() == original


# --- Curseur des messages (état) ------------------------------------------------------------------
def test_state_of_the_original_script_is_read(tmp_path):
    path = tmp_path / "messages.jsonl.state.json"
    path.write_text(json.dumps({"next_index": 7}), encoding="utf-8")
    cursor = MessagesCursor(path)
    cursor.load(reset=False)
    assert cursor.next_index == 7 and cursor.incomplete == {} and cursor.next_session_id is None


def test_low_tide_cursor_waits_for_the_slowest_conversation(tmp_path):
    cursor = MessagesCursor(tmp_path / "state.json")
    for rank in range(3):
        cursor.track(rank, 10 + rank, f"s{rank}")
    cursor.selection_done(13, "s3")
    cursor.settle(1, "s1", complete=True)
    cursor.settle(2, "s2", complete=True)
    # s0 n'est pas fini : le curseur ne peut pas le dépasser.
    assert (cursor.next_index, cursor.next_session_id) == (10, "s0")
    cursor.settle(0, "s0", complete=True)
    assert (cursor.next_index, cursor.next_session_id) == (13, "s3")
    assert cursor.dirty


def test_reset_keeps_incomplete_conversations(tmp_path):
    path = tmp_path / "state.json"
    path.write_text(json.dumps({"next_index": 4, "incomplete": {"s9": 123}}), encoding="utf-8")
    cursor = MessagesCursor(path)
    cursor.load(reset=True)
    assert cursor.next_index == 0 and cursor.incomplete == {"s9": 123}


# --- Fusion, tri et écriture partielle ------------------------------------------------------------
def test_merge_sorts_newest_first_and_updates_edited_messages(tmp_path):
    conversation = OpenConversation("s", tmp_path / "s.jsonl", 0)
    conversation.stored = {1: {"fingerprint": 1, "timestamp": 10, "content": "a"},
                           2: {"fingerprint": 2, "timestamp": 20, "content": "b"}}
    conversation.pending = {2: {"fingerprint": 2, "timestamp": 20, "content": "b modifié"},
                            3: {"fingerprint": 3, "timestamp": 20, "content": "c"}}
    lines = [json.loads(line) for line in conversation.merged_lines(CRISP_MODEL)]
    assert [m["fingerprint"] for m in lines] == [3, 2, 1]
    assert lines[1]["content"] == "b modifié"


def _store(tmp_path):
    data = tmp_path / "data"
    (data / "conversations").mkdir(parents=True)
    (data / "conversations" / "conversations.jsonl").write_text(
        '{"session_id": "s1"}\n', encoding="utf-8")
    store = MessageStore(data, Stats(), state_flush_seconds=3600)
    store.open(reset=False)
    return store


def test_partial_file_is_written_only_after_state_says_incomplete(tmp_path):
    store = _store(tmp_path)
    list(store.plan(10, Policy()))
    store.known("s1", 0)
    events = []
    store.cursor.before_save = lambda: events.append(("état", dict(store.cursor.incomplete)))
    write = store._write
    store._write = lambda conversation: (events.append(("fichier", None)), write(conversation))
    store.add("s1", [{"fingerprint": 1, "timestamp": 5}], reached_stored=False, new=1,
              updated=0, ignored=0)
    store.finish("s1", 0, complete=False, why="interrompue")
    assert events[0] == ("état", {"s1": 5}) and events[1] == ("fichier", None)


def test_complete_conversations_are_put_in_place_with_the_state_in_batches(tmp_path,
                                                                          monkeypatch):
    """Fichier préparé sans fsync ; au prochain état : durable, en place, PUIS l'état."""
    store = _store(tmp_path)
    list(store.plan(10, Policy()))
    store.known("s1", 0)
    store.add("s1", [{"fingerprint": 1, "timestamp": 5}], False, 1, 0, 0)
    store.finish("s1", 0, complete=True, why="fin")
    state, final = store.cursor.state.path, store.directory / "s1.jsonl"
    assert not final.exists() and not state.exists()
    assert [p.name.endswith(".tmp") for p in store.directory.iterdir()] == [True]
    from crispscrape.storage import cursor
    order = []
    write = cursor.atomic_write_lines
    monkeypatch.setattr(cursor, "atomic_write_lines", lambda path, lines: (
        order.append(("état", final.is_file())), write(path, lines)))
    store.close()
    assert order == [("état", True)]
    assert json.loads(final.read_text(encoding="utf-8")) == {"fingerprint": 1, "timestamp": 5}
    saved = json.loads(state.read_text(encoding="utf-8"))
    assert saved["incomplete"] == {} and saved["done"]["s1"][1] == final.stat().st_size
    assert sorted(p.name for p in store.directory.iterdir()) == ["messages.jsonl.state.json",
                                                                 "s1.jsonl"]


def test_a_conversation_reopened_before_the_state_is_read_up_to_date(tmp_path):
    store = _store(tmp_path)
    list(store.plan(10, Policy()))
    store.known("s1", 0)
    store.add("s1", [{"fingerprint": 1, "timestamp": 5}], False, 1, 0, 0)
    store.finish("s1", 0, complete=True, why="fin")
    assert set(store.known("s1", None).stored) == {1}


@pytest.mark.parametrize("syncfs", [True, False])
def test_grouped_replace_last_write_wins_and_discard_keeps_old_files(tmp_path, monkeypatch,
                                                                    syncfs):
    from crispscrape.storage import grouped
    if not syncfs:
        # Sans syncfs (hors Linux) : chaque temporaire synchronisé un par un, même résultat.
        monkeypatch.setattr(grouped, "_SYNCFS", None)
    (tmp_path / "a.jsonl").write_text("ancien\n", encoding="utf-8")
    files = grouped.GroupedReplace(str(tmp_path))
    assert files.write_lines(str(tmp_path / "a.jsonl"), ["un\n"]) == 3
    assert files.write_lines(str(tmp_path / "a.jsonl"), ["deux\n"]) == 5
    files.write_lines(str(tmp_path / "b.jsonl"), ["b\n"])
    assert (tmp_path / "a.jsonl").read_text(encoding="utf-8") == "ancien\n"
    assert files.commit() is True and files.commit() is False
    assert (tmp_path / "a.jsonl").read_text(encoding="utf-8") == "deux\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "b.jsonl"]
    files.write_lines(str(tmp_path / "a.jsonl"), ["trois\n"])
    files.discard()
    assert (tmp_path / "a.jsonl").read_text(encoding="utf-8") == "deux\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.jsonl", "b.jsonl"]


def test_probe_and_write_temporaries_left_by_a_kill_are_removed(tmp_path):
    check_output(tmp_path, tmp_path / "x.jsonl")
    (tmp_path / ".crispscrape-essai.ab12cd_e.tmp").write_text("", encoding="utf-8")
    (tmp_path / ".s1.jsonl.zz99yy88.tmp").write_text("", encoding="utf-8")
    (tmp_path / "keep.tmp").write_text("", encoding="utf-8")
    assert remove_stale_temporaries(tmp_path) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["keep.tmp"]


def test_exported_files_are_created_readable_by_the_owner_only(tmp_path):
    """Les exports contiennent des données personnelles : 0600, quel que soit l'umask."""
    import os

    from crispscrape.storage.files import append_lines, atomic_write_lines
    previous = os.umask(0o022)
    try:
        append_lines(tmp_path / "ajout.jsonl", ['{"a": 1}\n'])
        atomic_write_lines(tmp_path / "remplace.jsonl", ['{"a": 1}\n'])
    finally:
        os.umask(previous)
    for name in ("ajout.jsonl", "remplace.jsonl"):
        assert (tmp_path / name).stat().st_mode & 0o777 == 0o600


def test_two_non_empty_directories_are_exchanged_at_once(tmp_path):
    """Base d'analyse : le nouveau parquet/ prend la place de l'ancien d'un coup (renameat2),
    sans instant où le répertoire manque."""
    old, new = tmp_path / "parquet", tmp_path / ".construction" / "parquet"
    old.mkdir()
    new.mkdir(parents=True)
    (old / "messages.parquet").write_text("ancien")
    (new / "messages.parquet").write_text("nouveau")
    inode = new.stat().st_ino
    assert exchange_paths(new, old) is True
    assert (old / "messages.parquet").read_text() == "nouveau" and old.stat().st_ino == inode
    assert (new / "messages.parquet").read_text() == "ancien"
    # Un chemin absent : l'erreur du système, rien n'a bougé.
    with pytest.raises(FileNotFoundError):
        exchange_paths(tmp_path / "absent", old)
    assert (old / "messages.parquet").read_text() == "nouveau"


def test_store_lock_is_held_while_open_and_given_back_at_close(tmp_path):
    """Un second écrivain du même processus (le direct, issue 22) est refusé tant que le
    magasin est ouvert, et peut le prendre dès qu'il est fermé ; un échec de chargement
    rend le verrou aussi."""
    from scrapy.settings import Settings
    from scrapy.statscollectors import DummyStatsCollector

    from crispscrape.storage.conversations import ConversationsStore

    class _StatsCrawler:
        settings = Settings()

    first = ConversationsStore(tmp_path, DummyStatsCollector(_StatsCrawler()), 50)
    first.open(reset=False)
    second = ConversationsStore(tmp_path, DummyStatsCollector(_StatsCrawler()), 50)
    with pytest.raises(StorageError, match="Un autre export des conversations est déjà en cours"):
        second.open(reset=False)
    first.close()
    assert not first.dir_lock.held
    assert not (tmp_path / "conversations").exists()  # créé pour rien : retiré
    state = tmp_path / "conversations" / "conversations.jsonl.state.json"
    state.parent.mkdir()
    state.write_text("{pas du json", encoding="utf-8")
    with pytest.raises(StorageError):
        second.open(reset=False)
    assert not second.dir_lock.held and not second.opened  # état illisible : refusé, verrou rendu
    second.open(reset=True)
    assert second.dir_lock.held and second.opened
    second.close()


def test_append_after_a_line_cut_by_a_kill_never_glues_to_it(tmp_path):
    """Un ajout interrompu laisse une ligne sans fin ; l'ajout suivant commence par un saut de
    ligne : la ligne tronquée reste seule (ignorée), la nouvelle est entière et lisible."""
    from crispscrape.storage.files import append_lines

    path = tmp_path / "registre.jsonl"
    append_lines(path, ['{"id": "a"}\n'])
    with open(path, "a", encoding="utf-8") as handle:
        handle.write('{"id": "b", "wh')  # arrêt brutal pendant l'ajout
    append_lines(path, ['{"id": "c"}\n'])
    assert path.read_text(encoding="utf-8").splitlines() == [
        '{"id": "a"}', '{"id": "b", "wh', '{"id": "c"}']
    append_lines(path, ['{"id": "d"}\n'])  # fichier sain : rien d'ajouté avant
    assert path.read_text(encoding="utf-8").endswith('{"id": "c"}\n{"id": "d"}\n')
