"""L'add-on seul (sans les réglages du projet) donne les défauts et les composants de crispscrape."""

from __future__ import annotations

import subprocess
import sys

from scrapy.core.downloader.middleware import DownloaderMiddlewareManager
from scrapy.core.spidermw import SpiderMiddlewareManager
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.extensions.throttle import AutoThrottle
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.spidermiddlewares.depth import DepthMiddleware
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

import crispscrape.settings as project_settings
from crispscrape.addon import DEFAULTS, UNUSED, UNUSED_PATHS, CrispAddon
from crispscrape.extensions.autothrottle import CrispAutoThrottle
from crispscrape.extensions.jsonrpc import JsonRpcService
from crispscrape.extensions.statsfile import StatsFile
from crispscrape.middlewares.auth import CrispAuthMiddleware
from crispscrape.middlewares.ratelimit import CrispRateLimitMiddleware
from crispscrape.middlewares.retry import CrispRetryMiddleware

ADDON_ONLY = {"ADDONS": {CrispAddon: 0}}


def _types(components) -> list[type]:
    return [type(component) for component in components]


def test_addon_alone_sets_every_default_with_addon_priority():
    settings = get_crawler(settings_dict=ADDON_ONLY).settings
    # get_crawler (scrapy.utils.test) pose lui-même quelques réglages, plus haut que l'add-on.
    harness = get_crawler(settings_dict={}).settings
    for name, value in DEFAULTS.items():
        assert settings[name] == value, name
        if (harness.getpriority(name) or 0) <= SETTINGS_PRIORITIES["addon"]:
            assert settings.getpriority(name) == SETTINGS_PRIORITIES["addon"], name
    # Le défaut qui manquait hors du projet : 0,0 s d'attente permise, arrêt au premier 429.
    assert settings.getfloat("CRISP_THROTTLE_MAX_TOTAL_WAIT") == 1800.0
    assert "CRISP_THROTTLE_MAX_TOTAL_WAIT" not in get_crawler(settings_dict={}).settings


def test_addon_alone_wires_our_components_in_place_of_scrapys():
    crawler = get_crawler(settings_dict={**ADDON_ONLY, "CRISP_IDENTIFIER_PROD": "i",
                                         "CRISP_KEY_PROD": "cle", "ID_SITE_CRISP": "s"})
    middlewares = crawler.settings.get_component_priority_dict_with_base(
        "DOWNLOADER_MIDDLEWARES")
    assert middlewares[CrispRetryMiddleware] == 550
    assert middlewares[CrispRateLimitMiddleware] == 555
    assert middlewares[CrispAuthMiddleware] == 560
    built = _types(DownloaderMiddlewareManager.from_crawler(crawler).middlewares)
    assert {CrispRetryMiddleware, CrispRateLimitMiddleware, CrispAuthMiddleware} <= set(built)
    assert RetryMiddleware not in built  # seule notre sous-classe réessaie
    extensions = crawler.settings.get_component_priority_dict_with_base("EXTENSIONS")
    assert {CrispAutoThrottle, JsonRpcService, StatsFile} <= set(extensions)
    loaded = _types(crawler.extensions.middlewares)
    assert CrispAutoThrottle in loaded and AutoThrottle not in loaded


def test_page_crawling_components_are_off_unless_the_project_places_them():
    """Profondeur, Referer, longueur d'URL, meta refresh, HttpAuth : rien à faire face à une
    API JSON, du CPU à chaque réponse (issue 9) ; un projet peut toujours les remettre."""
    crawler = get_crawler(settings_dict={**ADDON_ONLY, "CRISP_IDENTIFIER_PROD": "i",
                                         "CRISP_KEY_PROD": "cle", "ID_SITE_CRISP": "s"})
    assert len(UNUSED) == 5
    for name, builtin in UNUSED:
        assert crawler.settings.get_component_priority_dict_with_base(name)[builtin] is None
    spider_side = _types(build_from_crawler(SpiderMiddlewareManager, crawler).middlewares)
    downloader_side = _types(DownloaderMiddlewareManager.from_crawler(crawler).middlewares)
    assert not {builtin for _, builtin in UNUSED} & {*spider_side, *downloader_side}
    again = get_crawler(settings_dict={**ADDON_ONLY,
                                       "SPIDER_MIDDLEWARES": {DepthMiddleware: 900}})
    assert again.settings.get_component_priority_dict_with_base(
        "SPIDER_MIDDLEWARES")[DepthMiddleware] == 900


def test_unused_components_named_by_path_are_never_imported():
    """RemoteControl (aiohttp), console telnet, CookiesMiddleware (tldextract, requests) :
    coupés par leur chemin, sans importer leur module à chaque export (issue 9)."""
    code = (
        "import sys\n"
        "from scrapy.utils.test import get_crawler\n"
        "from crispscrape.addon import CrispAddon\n"
        "crawler = get_crawler(settings_dict={'ADDONS': {CrispAddon: 0}, 'ID_SITE_CRISP': 's',"
        " 'CRISP_IDENTIFIER_PROD': 'i', 'CRISP_KEY_PROD': 'k'})\n"
        "from scrapy.core.downloader.middleware import DownloaderMiddlewareManager\n"
        "from scrapy.extension import ExtensionManager\n"
        "names = [type(m).__name__ for m in DownloaderMiddlewareManager.from_crawler(crawler).middlewares]\n"
        "names += [type(m).__name__ for m in ExtensionManager.from_crawler(crawler).middlewares]\n"
        "print(sorted(m for m in ('aiohttp', 'tldextract', 'requests') if m in sys.modules), names)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    imported, names = out.stdout.split(" ", 1)
    assert imported == "[]", out.stdout
    assert "RemoteControl" not in names and "CookiesMiddleware" not in names
    assert "TelnetConsole" not in names and "CrispRetryMiddleware" in names
    # Un réglage qui les rallume les garde.
    kept = get_crawler(settings_dict={**ADDON_ONLY, "COOKIES_ENABLED": True}).settings
    assert "CookiesMiddleware" in str(dict(kept.get_component_priority_dict_with_base(
        "DOWNLOADER_MIDDLEWARES")))
    gone = get_crawler(settings_dict=ADDON_ONLY).settings
    assert "CookiesMiddleware" not in str(dict(gone.get_component_priority_dict_with_base(
        "DOWNLOADER_MIDDLEWARES")))
    assert len(UNUSED_PATHS) == 3


def test_project_settings_and_command_line_win_over_the_addon():
    crawler = get_crawler(settings_dict={**ADDON_ONLY, "RETRY_TIMES": 9,
                                         "CRISP_THROTTLE_PROBE_RATE": 0.1})
    assert crawler.settings.getint("RETRY_TIMES") == 9
    assert crawler.settings.getfloat("CRISP_THROTTLE_PROBE_RATE") == 0.1


def test_project_enables_the_addon_and_keeps_only_project_level_settings():
    assert project_settings.ADDONS == {"crispscrape.addon.CrispAddon": 0}
    own = {name for name in dir(project_settings) if name.isupper()}
    assert not own & set(DEFAULTS), "un défaut de l'add-on redéfini dans settings.py"
