"""Le direct : un profil touché par ``people:profile:created|updated`` relu une fois calme.

Un appel par profil (``GET /website/{site}/people/profile/{e-mail ou people_id}``) ; la fiche
passe par le pipeline des profils, qui remplace sa ligne de utilisateurs.jsonl si la personne
y est (pipelines/users.py). Un 404 ne supprime rien (seul ``people:profile:removed`` le
prouve) ; un échec est réessayé après un nouveau délai de calme.
"""

from __future__ import annotations

import time
from typing import Any

from crispscrape.api import InvalidResponse
from crispscrape.items import ProfileItem
from crispscrape.model import email_key
from crispscrape.paging.live import due
from crispscrape.signals import live_settled

# Rôle d'une demande de profil du direct dans request.meta.
PROFILE = "crisp_live_profile"


class LiveProfiles:
    """À placer avant ``LiveRefresh`` (qui appelle ``_refresh_profiles`` à chaque coup d'œil)."""

    crawler: Any
    journal: Any
    settle_seconds: float
    api_config: Any
    api_request: Any
    api_data: Any
    retry_or_fail: Any
    _retry_after: dict[str, float]
    # Profils demandés (people_id -> heure de la demande).
    _profiles_asked: dict[str, float]

    def _refresh_profiles(self, now: float) -> None:
        """Profils touchés par un événement et calmes : relus, un appel chacun."""
        for people_id in due(self.journal.profiles, now, self.settle_seconds):
            if people_id in self._profiles_asked or self._retry_after.get(people_id, 0) > now:
                continue
            self._profiles_asked[people_id] = now
            email = self.journal.profiles[people_id].get("email")
            url = self.api_config.website_url("people", "profile",
                                              email if email_key(email) else people_id)
            self.crawler.engine.crawl(self.api_request(
                url, self.parse_live_profile, cb_kwargs={"people_id": people_id},
                meta={PROFILE: True}, dont_filter=True))

    def parse_live_profile(self, response, people_id: str):
        try:
            profile = self.api_data(response, dict)
        except InvalidResponse as exc:
            yield from self.retry_or_fail(response.request, exc)
            return
        email = profile.get("email")
        if email_key(email) is None:
            self.profile_answered(people_id, True)  # sans e-mail : hors de l'export des profils
            return
        yield ProfileItem(email, str(email_key(email)), profile, refresh=True)

    def profile_answered(self, people_id: str, settled: bool) -> None:
        started = self._profiles_asked.pop(people_id, time.time())
        self._retry_after.pop(people_id, None)
        if settled:
            self.crawler.signals.send_catch_log(live_settled, started=started,
                                                people_id=people_id)
        else:
            self._retry_after[people_id] = time.time() + self.settle_seconds

    def profile_item_done(self, item) -> bool:
        """Vrai si ``item`` est la fiche relue d'un profil (passée, écartée ou en échec)."""
        if isinstance(item, ProfileItem) and item.refresh and item.profile is not None:
            self.profile_answered(str(item.profile.get("people_id")), True)
            return True
        return False
