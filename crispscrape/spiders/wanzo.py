"""``scrapy crawl wanzo [-a nb=N] [-a reset=1]`` : la discussion du portefeuille Wanzo.

Variables : WANZO_API_URL (base, par exemple https://hôte/portfolio/api/v1) et WANZO_API_TOKEN
(obligatoire, envoyé en « Authorization: Bearer », jamais journalisé).
Sorties : {CRISP_DATA_DIR}/wanzo/contexts.jsonl et wanzo/messages/{id}.jsonl.
Tout le travail est commun (spiders/chat.py) ; ce qui est propre à Wanzo est dans
crispscrape/sources/wanzo.py.
"""

from crispscrape.sources.wanzo import WANZO
from crispscrape.spiders.chat import ChatSpider


class WanzoSpider(ChatSpider):
    name = "wanzo"
    source = WANZO
