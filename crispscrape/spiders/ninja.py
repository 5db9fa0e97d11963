"""``scrapy crawl ninja [-a nb=N] [-a reset=1]`` : la discussion client Django-Ninja.

Variables : NINJA_API_URL (base de l'API, par exemple http://hôte:8000/api) et, si l'API en
demande un, NINJA_API_TOKEN (envoyé en « Authorization: Bearer », jamais journalisé).
Sorties : {CRISP_DATA_DIR}/ninja/conversations.jsonl et ninja/messages/{uuid}.jsonl.
Tout le travail est commun (spiders/chat.py) ; ce qui est propre à Ninja est dans
crispscrape/sources/ninja.py.
"""

from crispscrape.sources.ninja import NINJA
from crispscrape.spiders.chat import ChatSpider


class NinjaSpider(ChatSpider):
    name = "ninja"
    source = NINJA
