"""La fin normale du direct : ``live_stopped`` (issue 22).

``scrapy crawl live`` ne finit jamais seul : Ctrl-C, SIGTERM ou ``cancel.json`` de scrapyd
l'arrêtent, et Scrapy nomme cette fin ``shutdown`` (ou ``cancelled`` par JSON-RPC). Pour le
direct, c'est la fin attendue : cette extension, branchée juste après CoreStats (qui pose
``finish_reason``), la renomme ``live_stopped`` (code 0, crispscrape/outcome.py) avant les
moniteurs et le fichier de statistiques. Les autres araignées ne sont pas touchées.
"""

from __future__ import annotations

from scrapy import signals

from crispscrape.context import export_context
from crispscrape.outcome import LIVE_STOPPED_FROM

LIVE = "live"


class LiveEnding:
    def __init__(self, crawler):
        self.crawler = crawler
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def spider_closed(self, spider=None, reason=None) -> None:
        context = export_context(self.crawler)
        # Seulement un direct qui s'était connecté : sinon (adresse refusée, échec), la fin
        # reste la sienne.
        if context is not None and context.name == LIVE and not context.refused \
                and reason in LIVE_STOPPED_FROM and getattr(spider, "rtm", None) is not None:
            self.crawler.stats.set_value("finish_reason", "live_stopped")
