"""Base commune des pipelines du projet."""

from __future__ import annotations


class CrawlerPipeline:
    """Pipeline construit par Scrapy avec from_crawler : garde le crawler et ses statistiques.

    L'araignée possède les fichiers de l'export (ouverts une fois la configuration validée) ;
    les pipelines les retrouvent par ``self.crawler.spider``.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)
