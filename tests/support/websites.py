"""Aide aux tests : un site d'un bac à sable qui en sert plusieurs (``websites=N``).

``WebsiteView(sandbox, website).admin(path)`` appelle l'administration du bac à sable pour CE
site (``?website=ID``) : les outils de comparaison à la vérité (assert_matches_truth,
expected_profiles…), écrits pour un bac à sable, servent tels quels pour chaque site.
"""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_users import expected_profiles
from tests.support.crawling import read_jsonl
from tests.support.messages_support import assert_matches_truth


class WebsiteView:
    def __init__(self, sandbox, website: str) -> None:
        self.sandbox = sandbox
        self.website_id = website

    def admin(self, path: str, method: str = "GET", json: object = None) -> object:
        separator = "&" if "?" in path else "?"
        return self.sandbox.admin(f"{path}{separator}website={self.website_id}", method, json)


def assert_website_equals_truth(sandbox, website: str, directory: Path) -> None:
    """Conversations (objets exacts), messages et profils du site égaux à sa vérité."""
    view = WebsiteView(sandbox, website)
    truth = view.admin("/_admin/truth/conversations")
    stored = read_jsonl(Path(directory) / "conversations" / "conversations.jsonl")
    key = "session_id"
    assert sorted(stored, key=lambda c: c[key]) == sorted(truth, key=lambda c: c[key]), website
    assert_matches_truth(view, directory, [c[key] for c in truth])
    profiles = read_jsonl(Path(directory) / "utilisateurs" / "utilisateurs.jsonl")
    assert profiles == expected_profiles(view, truth), website
