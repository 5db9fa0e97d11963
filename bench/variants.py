"""Variante expérimentale de l'araignée des messages, utilisée par le banc seulement.

``LazyStartMessagesSpider`` est l'araignée du projet, inchangée, à une différence près :
ses requêtes de départ (une par conversation) ne sont produites que lorsque le
téléchargeur a de la place, comme le recommande Scrapy (« start-requests-lazy »).

Pourquoi : Scrapy lit ``start()`` sans attendre tant que le téléchargeur est plein ; les
requêtes de départ s'entassent alors dans l'ordonnanceur (jusqu'à une par conversation
choisie), et la mémoire croît avec la taille du compte. Le banc mesure les deux versions
côte à côte ; c'est une proposition de modification de crispscrape/spiders/base.py, pas
une partie du produit.

Lancement : ``scrapy crawl messages -s SPIDER_MODULES=bench.variants``.
"""

from __future__ import annotations

import scrapy
from scrapy import signals

from crispscrape.spiders.messages import MessagesSpider


class LazyStartMessagesSpider(MessagesSpider):
    name = "messages"

    async def start(self):
        async for output in super().start():
            if isinstance(output, scrapy.Request):
                # Téléchargeur plein : on attend que l'ordonnanceur se vide avant de
                # produire la requête suivante (elle attendrait sinon en mémoire).
                while self.crawler.engine.needs_backout():
                    await self.crawler.signals.wait_for(signals.scheduler_empty)
            yield output
