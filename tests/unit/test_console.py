"""Le mode console (crispscrape/console.py) : quand il s'applique, ce qu'il laisse passer, et
comment il le dit. Les crawls réels sont dans tests/e2e/test_first_contact.py."""

from __future__ import annotations

import logging

import pytest
from scrapy.settings import Settings

from crispscrape.console import (
    ConsoleFilter, ConsoleFormatter, Repeats, console_extra, console_level, wants_console,
)


def settings(**values) -> Settings:
    result = Settings({"LOG_LEVEL": "INFO"}, priority="project")
    for name, value in values.items():
        result.set(name, value, priority="cmdline")
    return result


@pytest.mark.parametrize("values,console", [
    ({}, True),
    ({"LOG_LEVEL": "WARNING"}, True),
    ({"LOG_LEVEL": "INFO"}, False),
    ({"LOG_LEVEL": "debug"}, False),
    ({"LOG_FILE": "/tmp/x.log"}, False),
    ({"LOG_ENABLED": False}, False),
])
def test_console_mode_applies_without_an_explicit_full_level_or_log_file(values, console):
    assert wants_console(settings(**values)) is console


def record(level: int, message: str, console: bool = False) -> logging.LogRecord:
    made = logging.LogRecord("x", level, __file__, 1, message, None, None)
    if console:
        made.__dict__.update(console_extra())
    return made


def test_filter_keeps_marked_lines_warnings_and_errors_only():
    keep = ConsoleFilter(logging.WARNING)
    assert keep.filter(record(logging.INFO, "progression", console=True))
    assert not keep.filter(record(logging.INFO, "Spider opened"))
    assert keep.filter(record(logging.WARNING, "attention"))
    assert not ConsoleFilter(console_level(settings(LOG_LEVEL="ERROR"))).filter(
        record(logging.WARNING, "attention"))


def test_scrapy_retry_give_up_lines_are_left_to_our_french_lines():
    give_up = logging.LogRecord("scrapy.downloadermiddlewares.retry", logging.ERROR, __file__, 1,
                                "Gave up retrying <GET http://x/>", None, None)
    assert not ConsoleFilter(logging.WARNING).filter(give_up)
    assert ConsoleFilter(logging.WARNING).filter(record(logging.ERROR, "Échec définitif"))


def test_formatter_says_attention_or_erreur_never_warning():
    fmt = ConsoleFormatter()
    assert fmt.format(record(logging.INFO, "Récapitulatif", console=True)) == "Récapitulatif"
    assert fmt.format(record(logging.WARNING, "lent")) == "Attention : lent"
    assert fmt.format(record(logging.ERROR, "refusé")) == "Erreur : refusé"
    # Un bilan reste sans préfixe même s'il est écrit plus haut qu'INFO.
    assert fmt.format(record(logging.WARNING, "Fin : ok", console=True)) == "Fin : ok"


def test_console_extra_is_a_new_dict_each_time():
    first = console_extra()
    first["spider"] = object()
    assert console_extra() == {"crisp_console": True}


def test_repeats_show_the_first_three_of_each_kind_and_count_the_rest():
    repeats = Repeats()
    shown = [repeats.first("dns") for _ in range(5)] + [repeats.first("http_404")]
    assert shown == [True, True, True, False, False, True]
    assert repeats.counts == {"dns": 5, "http_404": 1}


def test_repeats_keep_every_line_in_the_full_log():
    full = Repeats(settings(LOG_LEVEL="INFO"))
    assert all(full.first("dns") for _ in range(10))
    screen = Repeats(settings(CRISP_CONSOLE=True))
    assert [screen.first("dns") for _ in range(4)] == [True, True, True, False]
