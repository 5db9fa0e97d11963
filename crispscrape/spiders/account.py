"""``scrapy crawl account`` : nom d'araignée du compte entier (conversations, messages, profils).

La chaîne des trois exports est menée par la commande ``crawl`` du projet
(crispscrape/commands/crawl.py, crispscrape/commands/account.py). Cette classe existe pour que
scrapyd (``listspiders.json``, ``schedule.json spider=account``) et ``scrapy list`` la
connaissent ; lancée autrement (``scrapy runspider``), elle refuse en le disant.
"""

from __future__ import annotations

import scrapy
from scrapy.exceptions import CloseSpider


class AccountSpider(scrapy.Spider):
    name = "account"

    async def start(self):
        self.logger.error("« account » enchaîne conversations, messages et users : lancez-la avec "
                          "« scrapy crawl account » depuis le projet (ou schedule.json de scrapyd).")
        raise CloseSpider("bad_argument")
        yield  # pragma: no cover — fait de start() un générateur asynchrone
