"""Web hooks du direct (issue 22, ``crispscrape/hooks.py``) : preuves (signature des hooks de
plugin, ``?key=`` des hooks de site), corps attendu, et refus de démarrer sans preuve ou sur
une adresse illisible. Le format des hooks sortants du bac à sable est vérifié par le même
code que le récepteur (crispsandbox/hooks_out.py)."""

from __future__ import annotations

import hashlib
import hmac

import pytest
from multidict import CIMultiDict, MultiDict
from scrapy.settings import Settings

from crispscrape.config import SECRET_NAMES, ConfigError
from crispscrape.hooks import (
    BadHook, authorized, check_hooks, key_ok, parse_address, parse_hook, signature, signature_ok,
)
from crispsandbox.hooks_out import HookSender, HookTarget

SECRET = "secret-de-signature-0123456789"
KEY = "cle-d-adresse-abcdef"
BODY = b'{"website_id":"w","event":"message:send","data":{"session_id":"s"},"timestamp":1}'
TIMESTAMP = "1767225600123"


def expected(secret=SECRET, timestamp=TIMESTAMP, body=BODY) -> str:
    """La signature calculée à la main, d'après le contrat (pas par le code testé)."""
    message = "[" + timestamp + ";" + body.decode("utf-8") + "]"
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def signed(signature_value=None, timestamp=TIMESTAMP) -> CIMultiDict:
    headers = CIMultiDict()
    if signature_value is not None:
        headers["X-Crisp-Signature"] = signature_value
    if timestamp is not None:
        headers["X-Crisp-Request-Timestamp"] = timestamp
    return headers


def test_signature_is_hex_hmac_sha256_of_bracketed_timestamp_and_raw_body():
    assert signature(SECRET, TIMESTAMP, BODY) == expected()
    assert len(expected()) == 64


def test_good_signature_passes_and_any_change_fails():
    good = expected()
    assert signature_ok(SECRET, signed(good), BODY)
    # En-têtes insensibles à la casse, hexadécimal en majuscules toléré.
    assert signature_ok(SECRET, CIMultiDict({"x-crisp-signature": good.upper(),
                                             "x-crisp-request-timestamp": TIMESTAMP}), BODY)
    assert not signature_ok(SECRET, signed("0" * 64), BODY)
    assert not signature_ok(SECRET, signed(good[:-1]), BODY)
    assert not signature_ok("autre-secret", signed(good), BODY)
    assert not signature_ok(SECRET, signed(good, timestamp="1767225600124"), BODY)
    # Un seul octet du corps changé (un espace ajouté compte aussi : corps brut).
    assert not signature_ok(SECRET, signed(good), BODY.replace(b'"s"', b'"t"'))
    assert not signature_ok(SECRET, signed(good), BODY + b" ")


def test_missing_signature_or_timestamp_fails():
    assert not signature_ok(SECRET, signed(None), BODY)
    assert not signature_ok(SECRET, signed(expected(), timestamp=None), BODY)
    # Signature d'un horodatage vide : toujours exigé comme en-tête présent.
    assert signature_ok(SECRET, signed(expected(timestamp=""), timestamp=""), BODY)
    assert not signature_ok(SECRET, signed(expected(timestamp=""), timestamp=None), BODY)
    # Aucun secret posé : aucune signature n'est bonne, même celle d'un secret vide.
    assert not signature_ok("", signed(expected(secret="")), BODY)


def test_key_must_be_equal_and_set():
    assert key_ok(KEY, MultiDict({"key": KEY}))
    assert not key_ok(KEY, MultiDict({"key": KEY + "x"}))
    assert not key_ok(KEY, MultiDict({"key": KEY[:-1]}))
    assert not key_ok(KEY, MultiDict({"key": ""}))
    assert not key_ok(KEY, MultiDict())
    assert not key_ok(KEY, MultiDict({"cle": KEY}))
    assert not key_ok("", MultiDict({"key": ""}))
    assert not key_ok(KEY, MultiDict({"key": "clé-é"}))  # non ASCII : refusé, sans erreur


def test_with_both_settings_either_proof_is_enough():
    good_signature, good_key = signed(expected()), MultiDict({"key": KEY})
    assert authorized(SECRET, KEY, good_signature, MultiDict(), BODY)
    assert authorized(SECRET, KEY, CIMultiDict(), good_key, BODY)
    assert authorized(SECRET, KEY, signed("0" * 64), good_key, BODY)
    assert authorized(SECRET, KEY, good_signature, MultiDict({"key": "faux"}), BODY)
    assert not authorized(SECRET, KEY, signed("0" * 64), MultiDict({"key": "faux"}), BODY)
    assert not authorized(SECRET, KEY, CIMultiDict(), MultiDict(), BODY)


def test_only_the_proof_that_is_configured_counts():
    # Secret seul : la clé ne sert à rien ; clé seule : la signature ne sert à rien.
    assert not authorized(SECRET, "", CIMultiDict(), MultiDict({"key": ""}), BODY)
    assert authorized(SECRET, "", signed(expected()), MultiDict(), BODY)
    assert not authorized("", KEY, signed(expected(secret="")), MultiDict(), BODY)
    assert authorized("", KEY, CIMultiDict(), MultiDict({"key": KEY}), BODY)


def test_sandbox_hooks_are_signed_as_the_receiver_expects():
    """Le bac à sable signe comme Crisp : son hook passe la vérification du récepteur, et
    une autre clé ou un corps retouché ne la passe pas."""
    target = HookTarget("http://127.0.0.1:1/hooks", secret=SECRET, key=KEY)
    body, headers = HookSender.request_parts(target, "w", "message:send", {"session_id": "s"},
                                             1767225600123)
    assert headers["X-Crisp-Request-Timestamp"] == "1767225600123"
    assert headers["X-Crisp-Signature"] == expected(timestamp="1767225600123", body=body)
    assert signature_ok(SECRET, CIMultiDict(headers), body)
    assert not signature_ok(SECRET + "x", CIMultiDict(headers), body)
    assert parse_hook(body) == {"website_id": "w", "event": "message:send",
                                "data": {"session_id": "s"}, "timestamp": 1767225600123}
    assert target.address.query["key"] == KEY
    unsigned, headers = HookSender.request_parts(HookTarget("http://h/hooks"), "w", "e", {}, 5)
    assert "X-Crisp-Signature" not in headers and parse_hook(unsigned)["timestamp"] == 5


@pytest.mark.parametrize("body, reason", [
    (b"pas du json", "corps JSON illisible"),
    (b"\xff\xfe", "corps JSON illisible"),
    (b"[1, 2]", "un objet JSON est attendu"),
    (b'{"data": {}}', "champ « event » absent ou vide"),
    (b'{"event": "", "data": {}}', "champ « event » absent ou vide"),
    (b'{"event": "message:send"}', "champ « data » absent ou qui n'est pas un objet"),
    (b'{"event": "message:send", "data": [1]}', "champ « data » absent ou qui n'est pas un objet"),
])
def test_unusable_bodies_are_refused_with_a_french_reason(body, reason):
    with pytest.raises(BadHook) as raised:
        parse_hook(body)
    assert str(raised.value) == reason


def test_addresses():
    assert parse_address("127.0.0.1:8787") == ("127.0.0.1", 8787)
    assert parse_address("localhost:1") == ("localhost", 1)
    assert parse_address("[::1]:65535") == ("::1", 65535)
    assert parse_address("0.0.0.0:443") == ("0.0.0.0", 443)


@pytest.mark.parametrize("address", ["", "8787", ":8787", "127.0.0.1", "127.0.0.1:",
                                     "127.0.0.1:0", "127.0.0.1:65536", "127.0.0.1:-1",
                                     "127.0.0.1:80a", "[::1]", "[]:80"])
def test_check_hooks_refuses_an_unusable_address_in_french(address):
    settings = Settings({"CRISP_HOOK_SECRET": SECRET})
    with pytest.raises(ConfigError) as raised:
        check_hooks(address, settings, environ={})
    message = str(raised.value)
    assert f"-a hooks={address!r} invalide : HÔTE:PORT est attendu" in message
    assert "port de 1 à 65535" in message and "Aucun appel n'a été fait." in message


def test_check_hooks_refuses_to_start_without_any_proof_in_french():
    with pytest.raises(ConfigError) as raised:
        check_hooks("127.0.0.1:8787", Settings(), environ={"CRISP_HOOK_SECRET": ""})
    message = str(raised.value)
    assert message.startswith("Web hooks (-a hooks=127.0.0.1:8787) : ni CRISP_HOOK_SECRET ni "
                              "CRISP_HOOK_KEY n'est défini ; le récepteur refuse d'écouter sans "
                              "preuve (jamais un point d'entrée ouvert).")
    assert message.endswith("Aucun appel n'a été fait.")


def test_check_hooks_reads_settings_then_environment_and_never_says_the_secret():
    address = ("127.0.0.1", 8787)
    assert check_hooks("127.0.0.1:8787", Settings({"CRISP_HOOK_SECRET": SECRET}), {}) == address
    assert check_hooks("127.0.0.1:8787", Settings(), {"CRISP_HOOK_KEY": KEY}) == address
    assert check_hooks("127.0.0.1:8787", Settings(), {"CRISP_HOOK_SECRET": SECRET}) == address
    with pytest.raises(ConfigError) as raised:
        check_hooks("127.0.0.1:0", Settings({"CRISP_HOOK_SECRET": SECRET}), {"CRISP_HOOK_KEY": KEY})
    assert SECRET not in str(raised.value) and KEY not in str(raised.value)


def test_hook_proofs_are_secret_names():
    # La commande crawl retire ces réglages de ce que Scrapy journalise (comme CRISP_KEY_PROD).
    assert {"CRISP_HOOK_SECRET", "CRISP_HOOK_KEY"} <= set(SECRET_NAMES)
