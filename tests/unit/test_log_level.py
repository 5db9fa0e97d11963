"""Le niveau du journal suit LOG_LEVEL, même après la création d'un crawler (issue 9, CPU)."""

from __future__ import annotations

import logging

import pytest
from scrapy.settings import Settings
from scrapy.utils.log import install_scrapy_root_handler

from crispscrape.commands.crawl import LEVELLED_LOGGERS, apply_log_level


@pytest.fixture
def restore_levels():
    saved = {name: logging.getLogger(name).level for name in LEVELLED_LOGGERS}
    handlers = list(logging.root.handlers)
    yield
    for name, level in saved.items():
        logging.getLogger(name).setLevel(level)
    logging.root.handlers[:] = handlers


def test_debug_records_are_not_built_at_info_even_after_a_new_crawler(restore_levels):
    settings = Settings({"LOG_LEVEL": "INFO"})
    apply_log_level(settings)
    # Ce que fait chaque nouveau Crawler de Scrapy : journal racine remis à NOTSET.
    install_scrapy_root_handler(settings)
    assert logging.root.level == logging.NOTSET
    for name in ("scrapy.core.engine", "scrapy.core.scraper", "crispscrape.pipelines.messages"):
        assert not logging.getLogger(name).isEnabledFor(logging.DEBUG), name
        assert logging.getLogger(name).isEnabledFor(logging.INFO), name


def test_debug_level_keeps_debug_messages(restore_levels):
    settings = Settings({"LOG_LEVEL": "DEBUG"})
    apply_log_level(settings)
    install_scrapy_root_handler(settings)
    assert logging.getLogger("scrapy.core.engine").isEnabledFor(logging.DEBUG)
