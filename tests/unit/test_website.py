"""``-a website=ID`` : identifiant vérifié avant tout, répertoire du site, verrou du site."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

import pytest
from scrapy.settings import Settings

from crispscrape.arguments import ArgumentError
from crispscrape.config import ConfigError, CrispConfig, authorization_header, data_dir_of
from crispscrape.storage.files import StorageError
from crispscrape.website import SiteLocks, parse_website, website_dir

SITE = "8c842203-7ed8-4e29-a608-7cf78a7d2fcc"
TOKEN = {"CRISP_IDENTIFIER_PROD": "ident", "CRISP_KEY_PROD": "cle"}


def test_a_crisp_website_id_is_accepted_and_lowercased():
    assert parse_website(SITE) == SITE
    assert parse_website(f"  {SITE.upper()} ") == SITE
    assert parse_website(None) is None


@pytest.mark.parametrize("value", [
    "..", "../x", ".", "", "x", "a/b", "a\\b", f"{SITE}/..", f"../{SITE}", f"{SITE}\x00",
    f".{SITE}", SITE.replace("-", ""), SITE + "0", "/etc", "8c842203-7ed8-4e29-a608-7cf78a7d2fcg",
])
def test_anything_but_a_uuid_is_refused_in_french(value):
    with pytest.raises(ArgumentError) as caught:
        parse_website(value)
    message = str(caught.value)
    assert message.startswith("Argument website=") and "invalide" in message
    assert "Aucun appel n'a été fait" in message and "-a website=" in message


def test_website_directory_stays_under_the_root(tmp_path):
    assert website_dir(tmp_path, None) == tmp_path
    assert website_dir(tmp_path, SITE) == tmp_path / SITE
    with pytest.raises(ArgumentError):
        website_dir(tmp_path, "../x")


def test_website_argument_overrides_id_site_crisp_and_moves_the_data(tmp_path):
    settings = Settings({"CRISP_DATA_DIR_DEFAULT": "."})
    environ = {**TOKEN, "ID_SITE_CRISP": "autre-site", "CRISP_DATA_DIR": str(tmp_path)}
    config = CrispConfig.from_settings(settings, environ, website=SITE)
    assert config.website_id == SITE and config.website_argument
    assert config.data_dir == tmp_path / SITE
    assert config.website_url("conversations", "1").endswith(f"/website/{SITE}/conversations/1")
    # Sans -a website : le site et l'arborescence de toujours.
    plain = CrispConfig.from_settings(settings, environ)
    assert plain.website_id == "autre-site" and plain.data_dir == tmp_path
    assert not plain.website_argument
    assert data_dir_of(settings, environ, website=SITE) == tmp_path / SITE


def test_website_argument_makes_id_site_crisp_optional(tmp_path):
    settings = Settings()
    environ = {**TOKEN, "CRISP_DATA_DIR": str(tmp_path)}
    with pytest.raises(ConfigError):
        CrispConfig.from_settings(settings, environ)
    assert CrispConfig.from_settings(settings, environ, website=SITE).website_id == SITE
    assert authorization_header(settings, environ, website=SITE).startswith(b"Basic ")


def test_site_lock_is_reentrant_in_the_process_and_refused_to_another_holder(tmp_path):
    directory = tmp_path / "donnees" / SITE
    locks = SiteLocks()
    created = locks.lock(directory, SITE)
    assert created == [tmp_path / "donnees", directory] and directory.is_dir()
    # Les étapes d'un même « account » redemandent le verrou : il leur est rendu.
    assert locks.lock(directory, SITE) == []

    other = tmp_path / "autre"
    other.mkdir()
    # Un autre détenteur (autre description de fichier, comme un autre processus).
    fd = os.open(other, os.O_RDONLY)
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    try:
        before = sorted(p.name for p in other.iterdir())
        with pytest.raises(StorageError) as caught:
            locks.lock(other, "site-b")
        assert "Un autre export est déjà en cours pour ce site (site-b)" in str(caught.value)
        assert sorted(p.name for p in other.iterdir()) == before
    finally:
        os.close(fd)


def test_site_lock_follows_a_directory_recreated_after_removal(tmp_path):
    directory = tmp_path / SITE
    locks = SiteLocks()
    locks.lock(directory, SITE)
    directory.rmdir()  # retiré vide (arrêt au premier appel), puis recréé par l'étape suivante
    assert locks.lock(directory, SITE) == [directory]
    fd = os.open(directory, os.O_RDONLY)
    try:
        with pytest.raises(BlockingIOError):
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    finally:
        os.close(fd)
    assert Path(directory).is_dir()


def test_two_runs_in_one_process_have_their_own_site_locks(tmp_path):
    """Plus de registre au niveau du module : deux exécutions (deux SiteLocks) d'un même
    processus se refusent le même site, comme deux processus ; une même exécution, non."""
    directory = tmp_path / SITE
    first = SiteLocks()
    first.lock(directory, SITE)
    with pytest.raises(StorageError):
        SiteLocks().lock(directory, SITE)
    assert first.lock(directory, SITE) == []
