"""crispscrape.compat : chaque détail interne de Scrapy existe dans la version installée,
et son helper échoue bruyamment (en français, version de Scrapy nommée) s'il disparaît.

Ces tests sont le signal d'alarme d'une montée de version de Scrapy : s'ils échouent,
adapter crispscrape/compat.py avant tout le reste.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import types

import pytest
import scrapy
import scrapy.core.downloader as downloader_module
from scrapy.core.downloader import Downloader, Slot
from scrapy.core.engine import ExecutionEngine, _Slot
from scrapy.extensions.throttle import AutoThrottle
from scrapy.http import Request
from scrapy.utils.test import get_crawler
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure

from crispscrape import compat
from crispscrape.compat import ScrapyInternalsError


def _loud(error: pytest.ExceptionInfo, name: str) -> None:
    """Le message nomme l'attribut, la version installée et la version vérifiée."""
    message = str(error.value)
    assert name in message
    assert f"Scrapy {scrapy.__version__}" in message
    assert f"Scrapy {compat.TESTED_SCRAPY}" in message
    assert "détail interne de Scrapy qui a changé" in message


# --- Slot.lastseen et l'horloge du téléchargeur -------------------------------------------

def test_downloader_clock_is_the_one_scrapy_uses():
    # Scrapy 2.19 compare lastseen à time.monotonic() (time.time() avant 2026).
    assert downloader_module.monotonic is time.monotonic
    assert compat.downloader_clock() is time.monotonic


def test_downloader_clock_fails_loudly_when_scrapy_changes_it(monkeypatch):
    monkeypatch.setattr(downloader_module, "monotonic", lambda: 0.0)
    with pytest.raises(ScrapyInternalsError) as error:
        compat.downloader_clock()
    _loud(error, "horloge de Slot.lastseen")


def test_pause_slot_is_honoured_by_the_real_downloader():
    """La pause posée par pause_slot retient vraiment la file du vrai téléchargeur ;
    release_slot la libère."""

    async def scenario():
        downloader = Downloader(get_crawler())
        slot = Slot(concurrency=4, delay=0.01)
        compat.pause_slot(slot, 3.0)
        assert 2.9 <= slot.lastseen + slot.delay - time.monotonic() <= 3.0
        sent = []
        downloader._wait_for_download = _recording(sent)
        request = Request("http://127.0.0.1:1/a")
        slot.queue.append((request, Deferred()))
        downloader._process_queue(slot)
        assert sent == [] and slot.latercall is not None, "la pause n'a pas retenu la file"
        compat.release_slot(downloader, slot)
        await asyncio.sleep(0)
        assert sent == [request] and slot.latercall is None and slot.delay == 0

    asyncio.run(scenario())


def _recording(sent: list):
    async def wait_for_download(slot, request, dfd):
        sent.append(request)

    return wait_for_download


def test_slot_helpers_fail_loudly_on_an_object_without_the_attributes():
    bare = types.SimpleNamespace(delay=1.0)
    with pytest.raises(ScrapyInternalsError) as error:
        compat.pause_slot(bare, 1.0)
    _loud(error, "Slot.lastseen")
    with pytest.raises(ScrapyInternalsError) as error:
        compat.release_slot(types.SimpleNamespace(_process_queue=print), bare)
    _loud(error, "Slot.latercall")
    with pytest.raises(ScrapyInternalsError) as error:
        compat.release_slot(types.SimpleNamespace(), Slot(concurrency=1, delay=0))
    _loud(error, "Downloader._process_queue")


# --- ExecutionEngine._slot.nextcall --------------------------------------------------------

def test_engine_slot_and_nextcall_exist():
    engine = ExecutionEngine(get_crawler(), lambda _: None)
    assert engine._slot is None  # pas de spider ouvert : wake_engine n'a rien à faire
    compat.wake_engine(engine)
    assert "nextcall" in inspect.signature(_Slot.__init__).parameters
    woken = []
    engine._slot = types.SimpleNamespace(nextcall=types.SimpleNamespace(
        schedule=lambda: woken.append(True)))
    compat.wake_engine(engine)
    assert woken == [True]


def test_wake_engine_fails_loudly_without_the_attributes():
    with pytest.raises(ScrapyInternalsError) as error:
        compat.wake_engine(types.SimpleNamespace())
    _loud(error, "ExecutionEngine._slot")
    with pytest.raises(ScrapyInternalsError) as error:
        compat.wake_engine(types.SimpleNamespace(_slot=types.SimpleNamespace()))
    _loud(error, "ExecutionEngine._slot.nextcall")


# --- AutoThrottle._adjust_delay ----------------------------------------------------------

def test_autothrottle_adjust_delay_has_the_signature_we_override():
    compat.require_method(AutoThrottle, "_adjust_delay", ("slot", "latency", "response"))


def test_require_method_fails_loudly_when_renamed_or_changed():
    class Renamed:
        def _adjust(self, slot, latency, response):
            pass

    class Changed:
        def _adjust_delay(self, slot, response):
            pass

    with pytest.raises(ScrapyInternalsError) as error:
        compat.require_method(Renamed, "_adjust_delay", ("slot", "latency", "response"))
    _loud(error, "Renamed._adjust_delay")
    with pytest.raises(ScrapyInternalsError) as error:
        compat.require_method(Changed, "_adjust_delay", ("slot", "latency", "response"))
    _loud(error, "Changed._adjust_delay")


# --- spawn ---------------------------------------------------------------------------------

def test_spawn_keeps_the_task_alive_until_it_ends_and_logs_its_failure(caplog):
    async def work():
        await asyncio.sleep(0.01)
        return "fini"

    async def broken():
        raise ValueError("panne simulée")

    async def scenario():
        task = compat.spawn(work())
        assert task in compat._running
        assert await task == "fini"
        assert task not in compat._running
        failing = compat.spawn(broken())
        await asyncio.gather(failing, return_exceptions=True)
        await asyncio.sleep(0)
        assert failing not in compat._running

    with caplog.at_level(logging.ERROR, logger="crispscrape.compat"):
        asyncio.run(scenario())
    assert "Échec d'une tâche de fond" in caplog.text and "panne simulée" in caplog.text


def test_quiet_media_failure_is_the_class_scrapy_logs_without_a_trace(monkeypatch):
    import scrapy.pipelines.media as media

    quiet = compat.quiet_media_failure()
    assert issubclass(quiet, media.FileException)
    assert media._media_request_filtered(Failure(quiet("404")))
    monkeypatch.delattr(media, "_MediaRequestFiltered")
    with pytest.raises(compat.ScrapyInternalsError, match="_MediaRequestFiltered"):
        compat.quiet_media_failure()


def test_the_media_cache_is_emptied_past_its_bound_and_the_attribute_is_checked():
    from scrapy.pipelines.media import MediaPipeline

    info = MediaPipeline.SpiderInfo(None)
    info.downloaded.update({b"a": 1, b"b": 2})
    compat.trim_media_cache(info, keep=2)
    assert info.downloaded == {b"a": 1, b"b": 2}
    info.downloaded[b"c"] = 3
    compat.trim_media_cache(info, keep=2)
    assert info.downloaded == {}
    with pytest.raises(compat.ScrapyInternalsError, match="SpiderInfo.downloaded"):
        compat.trim_media_cache(object())
