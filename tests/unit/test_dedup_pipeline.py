"""Dédoublonnage des messages (``MessageDedupPipeline``), sans réseau ni fichier.

Le magasin est une doublure qui n'expose que ce que le pipeline lit : ``model.message_key``
et ``known(session_id, rank)`` (messages du fichier, ``stored`` ; messages déjà reçus dans
l'exécution, ``received``). Attentes : docs/messages.md (« Mises à jour ») et la docstring de
crispscrape/pipelines/dedup.py.
"""

from __future__ import annotations

from types import MappingProxyType, SimpleNamespace

import pytest
from scrapy.settings import Settings
from scrapy.statscollectors import MemoryStatsCollector

from crispscrape.items import MessageBatch
from crispscrape.pipelines import dedup
from crispscrape.pipelines.dedup import MessageDedupPipeline
from crispscrape.sources.crisp import CRISP_MODEL


def msg(fingerprint: int, timestamp: int, content: str = "bonjour", **extra) -> dict:
    return {"fingerprint": fingerprint, "timestamp": timestamp, "content": content, **extra}


class FakeStore:
    """Ce que le pipeline lit du magasin des messages, et rien d'autre."""

    model = CRISP_MODEL  # clé d'un message : son fingerprint

    def __init__(self, stored=(), received=()):
        self.stored = {m["fingerprint"]: m for m in stored}
        self.received = {m["fingerprint"]: m for m in received}
        self.asked: list[tuple] = []

    def known(self, session_id, rank):
        self.asked.append((session_id, rank))
        return SimpleNamespace(stored=MappingProxyType(self.stored),
                               received=MappingProxyType(self.received))


@pytest.fixture
def make(monkeypatch):
    """(pipeline, statistiques) autour d'un magasin donné."""

    def factory(store: FakeStore):
        crawler = SimpleNamespace(settings=Settings())
        crawler.stats = MemoryStatsCollector(crawler)
        monkeypatch.setattr(dedup, "message_store",
                            lambda asked: store if asked is crawler else pytest.fail("autre crawler"))
        return MessageDedupPipeline.from_crawler(crawler), crawler.stats

    return factory


def batch(messages, **fields) -> MessageBatch:
    # Des copies : le pipeline compare les contenus, pas l'identité des objets.
    return MessageBatch("session_a", rank=0, messages=[dict(m) for m in messages], **fields)


def test_messages_already_in_the_file_unchanged_are_dropped_and_counted(make):
    old1, old2 = msg(1, 100), msg(2, 200)
    store = FakeStore(stored=[old1, old2])
    pipeline, stats = make(store)
    item = pipeline.process_item(batch([msg(3, 300), old2, old1]))
    assert item.messages == [msg(3, 300)]
    assert (item.new, item.updated, item.ignored) == (1, 0, 2)
    assert item.reached_stored is True  # le lot rejoint le fichier : la remontée peut s'arrêter
    assert stats.get_value("messages/ignored_known") == 2
    assert store.asked == [("session_a", 0)]
    # Compté lot après lot.
    pipeline.process_item(batch([old1]))
    assert stats.get_value("messages/ignored_known") == 3


def test_new_messages_pass_in_order_and_nothing_is_counted_as_known(make):
    pipeline, stats = make(FakeStore(stored=[msg(9, 900)]))
    received = [msg(3, 300), msg(2, 200), msg(1, 100)]
    item = pipeline.process_item(batch(received))
    assert item.messages == received
    assert (item.new, item.updated, item.ignored) == (3, 0, 0)
    assert item.reached_stored is False
    assert stats.get_value("messages/ignored_known") is None
    assert stats.get_value("dedup/overlap") is None


def test_edited_message_same_fingerprint_is_kept_as_an_update(make):
    original = msg(5, 500, "bonjour")
    pipeline, stats = make(FakeStore(stored=[original]))
    edited = msg(5, 500, "bonjour à tous", edited=True)
    item = pipeline.process_item(batch([edited]))
    # Une mise à jour, pas un doublon : la nouvelle version continue vers l'écriture.
    assert item.messages == [edited]
    assert (item.new, item.updated, item.ignored) == (0, 1, 0)
    assert item.reached_stored is True
    assert stats.get_value("messages/ignored_known") is None


def test_overlap_with_the_previous_batch_of_this_run_is_dropped(make):
    # Lots volontairement chevauchants (plus_ancien + 1) : le message 7 a déjà été reçu.
    seen = msg(7, 700)
    pipeline, stats = make(FakeStore(received=[seen]))
    item = pipeline.process_item(batch([seen, msg(6, 600)]))
    assert item.messages == [msg(6, 600)]
    assert (item.new, item.updated, item.ignored) == (1, 0, 0)
    assert stats.get_value("dedup/overlap") == 1
    assert stats.get_value("messages/ignored_known") is None  # pas « connu du fichier »


def test_same_message_twice_in_one_batch_is_kept_once(make):
    pipeline, stats = make(FakeStore())
    item = pipeline.process_item(batch([msg(4, 400), msg(4, 400), msg(3, 300)]))
    assert item.messages == [msg(4, 400), msg(3, 300)]
    assert item.new == 2 and stats.get_value("dedup/overlap") == 1


def test_full_order_batch_keeps_known_messages_in_place(make):
    # Conversation relue depuis son premier message : l'ordre de l'API compte, les messages
    # connus restent dans le lot (comptés ignorés), ceux déjà reçus aussi (chevauchement).
    stored, received = msg(1, 100), msg(2, 200)
    pipeline, stats = make(FakeStore(stored=[stored], received=[received]))
    item = pipeline.process_item(batch([stored, received, msg(3, 300)], full_order=True))
    assert item.messages == [stored, received, msg(3, 300)]
    assert (item.new, item.updated, item.ignored) == (1, 0, 1)
    assert stats.get_value("messages/ignored_known") == 1
    assert stats.get_value("dedup/overlap") == 1


def test_other_items_and_empty_batches_pass_without_asking_the_store(make):
    store = FakeStore(stored=[msg(1, 100)])
    pipeline, stats = make(store)
    other = object()
    assert pipeline.process_item(other) is other
    # Un lot vide (fin anormale) continue vers l'écriture : sa fin compte.
    end = MessageBatch("session_a", rank=0, end="introuvable")
    assert pipeline.process_item(end) is end and end.messages == []
    assert store.asked == [] and stats.get_stats() == {}
