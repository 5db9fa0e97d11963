"""Nos rappels ne renvoient jamais de valeur depuis un générateur.

Le réglage WARN_ON_GENERATOR_RETURN_VALUE est coupé (Scrapy relisait le code source de
chaque rappel à chaque réponse) : ce test garde la vérification qu'il faisait, une fois.
"""

from __future__ import annotations

import inspect

import pytest
from scrapy.utils.misc import is_generator_with_return_value

from crispscrape.spiders.base import ExportSpider
from crispscrape.spiders.conversations import ConversationsSpider
from crispscrape.spiders.messages import MessagesSpider
from crispscrape.spiders.users import UsersSpider

CALLBACKS = [
    (cls, name) for cls in (ExportSpider, MessagesSpider, ConversationsSpider, UsersSpider)
    for name, member in vars(cls).items()
    if inspect.isfunction(member) and (name.startswith(("parse", "on_", "resource_"))
                                       or name in ("retry_or_fail", "export_requests"))
]


def test_every_spider_has_its_callbacks_checked():
    assert {cls for cls, _ in CALLBACKS} == {ExportSpider, MessagesSpider, ConversationsSpider,
                                             UsersSpider}


@pytest.mark.parametrize("cls,name", CALLBACKS, ids=[f"{c.__name__}.{n}" for c, n in CALLBACKS])
def test_no_generator_callback_returns_a_value(cls, name):
    assert not is_generator_with_return_value(getattr(cls, name))
