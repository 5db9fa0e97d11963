"""Le registre des suppressions d'abord (issue 21) : s'il ne peut être écrit, l'export
s'arrête et rien n'est retiré (pipelines/removals.py, spiders/removals.py)."""

from __future__ import annotations

from types import SimpleNamespace

from scrapy.settings import Settings
from scrapy.signalmanager import SignalManager
from scrapy.statscollectors import MemoryStatsCollector

from crispscrape.context import ExportContext, publish_context
from crispscrape.outcome import CAUSE_STAT
from crispscrape.pipelines.removals import RemovalsPipeline
from crispscrape.signals import conversation_removed, export_stopped
from crispscrape.sources.crisp import CRISP


def test_an_unwritable_registry_stops_the_export_and_records_nothing(tmp_path):
    stats = MemoryStatsCollector(SimpleNamespace(settings=Settings()))
    crawler = SimpleNamespace(stats=stats, signals=SignalManager(),
                              settings=Settings({"CRISP_REMOVED": "erase"}))
    config = SimpleNamespace(data_dir=tmp_path)
    publish_context(crawler, ExportContext("messages", CRISP, config))
    pipeline = RemovalsPipeline(crawler)  # gardé : ses abonnements aux signaux sont faibles
    (tmp_path / "suppressions.jsonl").mkdir()  # un répertoire : l'ajout échoue
    stopped = []

    def on_stop(reason, message):
        stopped.append((reason, message))
        stats.set_value(CAUSE_STAT, message)  # ce que fait l'araignée (spiders/base.py)

    crawler.signals.connect(on_stop, signal=export_stopped, weak=False)
    crawler.signals.send_catch_log(conversation_removed, session_id="s1", evidence="404")
    assert [reason for reason, _ in stopped] == ["output_error"]
    assert "Registre des suppressions impossible à écrire" in stopped[0][1]
    assert "removed/conversations" not in stats.get_stats()
    assert pipeline._log() is not None
