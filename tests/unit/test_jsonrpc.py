"""JSON-RPC (crispscrape.jsonrpc), tests unitaires : cales d'import et masquage des secrets.

Aucun crawl ni serveur ; le service sur un vrai crawl est testé dans tests/e2e/test_jsonrpc.py.
"""

from __future__ import annotations

import base64
import sys

import crispscrape.jsonrpc  # noqa: F401 - charge scrapy-jsonrpc, le temps de ses cales d'import


def test_import_shims_are_scoped():
    """Les cales d'import ne survivent pas au chargement de scrapy-jsonrpc."""
    import scrapy
    import scrapy.item
    import scrapy.utils.python

    assert "scrapy.log" not in sys.modules and "scrapy.spider" not in sys.modules
    assert not hasattr(scrapy.utils.python, "unicode_to_str")
    assert not hasattr(scrapy.item, "BaseItem")
    assert not hasattr(scrapy, "log")


def test_secret_names_and_values_are_redacted():
    from scrapy.settings import Settings

    from crispscrape.jsonrpc.security import SecretRedactor, is_secret_name

    for name in ("CRISP_KEY_PROD", "CRISP_IDENTIFIER_PROD", "CRISP_TOKEN_KEY", "CRISP_TOKEN_ID",
                 "JSONRPC_TOKEN", "TELNETCONSOLE_PASSWORD", "AWS_SECRET_ACCESS_KEY", "Authorization"):
        assert is_secret_name(name)
    assert not is_secret_name("BOT_NAME")

    class FakeCrawler:
        settings = Settings({"CRISP_TOKEN_ID": "identifiant-123", "CRISP_TOKEN_KEY": "cle-456789"})

    redactor = SecretRedactor.from_crawler(FakeCrawler, environ={})
    basic = base64.b64encode(b"identifiant-123:cle-456789").decode()
    assert redactor.redact({"a": [f"Basic {basic}", "x identifiant-123"], "b": 3}) == {"a": ["***", "***"], "b": 3}
    assert redactor.redact_setting("DEFAULT_REQUEST_HEADERS", {"Authorization": "abc"}) == {"Authorization": "***"}
