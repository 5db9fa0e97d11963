"""Règle de pagination des messages (``next_step``), sans réseau ni fichier."""

from __future__ import annotations

from types import MappingProxyType

from crispscrape.spiders.messages import next_step
from crispscrape.items import Known


def known(stored=(), complete=True, unreadable=False, exists=True):
    by_fp = {m["fingerprint"]: m for m in stored}
    oldest = min((m["timestamp"] for m in stored), default=None)
    return Known(exists=exists, complete_file=complete and exists and not unreadable,
                 unreadable=unreadable, oldest_stored=oldest,
                 stored=MappingProxyType(by_fp), received=MappingProxyType({}))


def msg(fp, ts):
    return {"fingerprint": fp, "timestamp": ts}


BATCH = [msg(i, 1000 + i) for i in range(40)]


def test_last_batch_ends_the_conversation():
    step = next_step(BATCH, True, known(exists=False), None, new=True)
    assert step.end == "fin" and step.next_before is None


def test_next_batch_asks_oldest_plus_one_to_keep_same_millisecond_messages():
    step = next_step(BATCH, False, known(exists=False), None, new=True)
    assert step.end is None and step.next_before == 1001 and not step.overflow


def test_complete_file_reached_stops_without_another_call():
    stored = [msg(5, 1005), msg(-1, 10)]
    step = next_step(BATCH, False, known(stored), None, new=True)
    assert step.end == "à jour"


def test_complete_file_and_nothing_new_stops():
    step = next_step(BATCH, False, known([msg(999, 1)]), None, new=False)
    assert step.end == "à jour"


def test_incomplete_file_reached_jumps_below_its_oldest_message():
    stored = [msg(5, 1005), msg(-7, 300)]
    step = next_step(BATCH, False, known(stored, complete=False), None, new=True)
    assert step.end is None and step.next_before == 301


def test_file_with_unreadable_lines_never_jumps():
    stored = [msg(5, 1005), msg(-7, 300)]
    step = next_step(BATCH, False, known(stored, complete=False, unreadable=True), None, new=True)
    assert step.next_before == 1001


def test_whole_batch_in_one_millisecond_goes_strict_and_says_so():
    same = [msg(i, 500) for i in range(40)]
    step = next_step(same, False, known(exists=False), 501, new=True)
    assert step.overflow and step.next_before == 500


def test_complete_reread_neither_stops_at_the_file_nor_jumps_below_it():
    """-a verify=1 (issue 21) : relire jusqu'au premier message pour voir ce qui a disparu ;
    ni arrêt « à jour » sur un fichier complet, ni saut sous son plus ancien message."""
    stored = [msg(5, 1005), msg(-1, 10)]
    step = next_step(BATCH, False, known(stored), None, new=False, full=True)
    assert step.end is None and step.next_before == 1001
    assert next_step(BATCH, True, known(stored), None, new=False, full=True).end == "fin"
