"""Journal des événements en direct (issue 22, ``storage/journal.py``) : journal d'abord,
rejeu de ce qui n'est pas appliqué, numéros repris après un arrêt, fichiers anciens retirés."""

from __future__ import annotations

import datetime
import json

from crispscrape.storage.journal import EventJournal

UTC = datetime.timezone.utc
DAY1 = datetime.datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
DAY2 = datetime.datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


def test_events_are_journaled_per_day_and_replayed_until_applied(tmp_path):
    journal = EventJournal(tmp_path / "evenements")
    journal.open()
    first = journal.append("rtm", "message:send", {"session_id": "s1", "fingerprint": 1}, DAY1)
    second = journal.append("hook", "message:send", {"session_id": "s1", "fingerprint": 2}, DAY2)
    assert (first, second) == (1, 2)
    assert sorted(p.name for p in (tmp_path / "evenements").iterdir()) == [
        "2026-11-01.jsonl", "2026-11-02.jsonl"]
    line = json.loads((tmp_path / "evenements" / "2026-11-02.jsonl").read_text())
    assert line == {"seq": 2, "received": "2026-11-02T10:00:00.000+00:00", "source": "hook",
                    "event": "message:send", "data": {"session_id": "s1", "fingerprint": 2}}
    assert [r["seq"] for r in journal.pending()] == [1, 2]
    journal.mark_applied(1)
    # Un redémarrage (nouvel objet) reprend la numérotation et ne rejoue que la suite.
    again = EventJournal(tmp_path / "evenements")
    again.open()
    assert (again.last_seq, again.applied) == (2, 1)
    assert [r["seq"] for r in again.pending()] == [2]
    assert again.append("rtm", "message:removed", {}, DAY2) == 3


def test_a_line_cut_by_a_kill_is_ignored_and_numbering_goes_on(tmp_path):
    journal = EventJournal(tmp_path)
    journal.open()
    journal.append("rtm", "message:send", {"n": 1}, DAY1)
    with open(tmp_path / "2026-11-01.jsonl", "a", encoding="utf-8") as handle:
        handle.write('{"seq": 2, "received": "2026-11-01T10:00')  # arrêt brutal en pleine ligne
    again = EventJournal(tmp_path)
    again.open()
    assert again.last_seq == 1
    assert [r["seq"] for r in again.pending()] == [1]


def test_old_fully_applied_days_are_pruned_and_nothing_else(tmp_path):
    journal = EventJournal(tmp_path, keep_days=30)
    journal.open()
    journal.append("rtm", "a", {}, DAY1)
    journal.append("rtm", "b", {}, DAY2)
    journal.mark_applied(1)
    later = datetime.date(2026, 12, 31)
    assert [p.name for p in journal.prune(later)] == ["2026-11-01.jsonl"]
    assert (tmp_path / "2026-11-02.jsonl").is_file()  # pas encore appliqué : gardé
    journal.mark_applied(2)
    assert [p.name for p in journal.prune(datetime.date(2026, 11, 20))] == []  # trop récent
