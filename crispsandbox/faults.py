"""Pannes simulées : latence, limitation de débit, ralentissements aléatoires, quota
journalier, erreurs 5xx, coupures de connexion et réponses abîmées.

Les tirages aléatoires viennent d'un générateur initialisé par la graine : à suite
d'appels identique, pannes identiques. Un plan (fault_plan.py) donne d'abord des pannes
choisies, à coup sûr.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass, fields, replace
from typing import Callable

from aiohttp import web

from .envelope import (
    JSON_CONTENT_TYPE, CrispError, dumps, error_body, json_response, raw_response, success_body,
)
from .fault_plan import FaultPlan, validated

RATE_LIMIT_STATUSES = (429, 420, 422)
_STATUS_PHRASES = {420: "Enhance Your Calm", 422: "Unprocessable Entity", 429: "Too Many Requests"}
_RATIO_FIELDS = (
    "throttle_ratio", "non_json_429_ratio", "error_rate", "latency_spike_ratio", "reset_ratio",
    "truncated_ratio", "error_envelope_ratio", "wrong_type_ratio", "broken_message_ratio",
    "invalid_field_ratio",
)
_STATUS_FIELDS = ("rate_limit_status", "throttle_status")


# Corps JSON d'un refus ou d'une erreur simulée : (statut, message) -> JSON. Chaque système
# simulé (Crisp, ninja, wanzo) a le sien ; le reste des pannes est commun.
ErrorPayload = Callable[[int, str], object]


def crisp_error_payload(status: int, message: str) -> object:
    """Enveloppe d'erreur Crisp : rate_limited pour un refus de débit, internal_error sinon."""
    if status in RATE_LIMIT_STATUSES:
        return error_body("rate_limited", message, "rate")
    return error_body("internal_error", message, "server")


def _html_page(status: int, phrase: str) -> bytes:
    """Page d'erreur d'un répartiteur de charge : ce n'est pas du JSON."""
    title = f"{status} {phrase}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    ).encode("ascii")


@dataclass(frozen=True)
class FaultOptions:
    """Réglages des pannes ; chaque *_ratio est une probabilité par appel API."""

    latency_ms: float = 0
    rate_limit: float = 0  # requêtes par seconde (seau à jetons), 0 = illimité
    rate_limit_status: int = 429
    # Refus de débit tirés au hasard, quel que soit le rythme du client : un répartiteur
    # de charge chargé par d'autres, et non une limite que ralentir ferait disparaître.
    throttle_ratio: float = 0
    throttle_status: int = 420
    non_json_429_ratio: float = 0.5
    retry_after: int | None = None  # secondes ; None = pas d'en-tête, comme Crisp
    quota: int = 0  # appels permis avant 423 quota_limit_exceeded, 0 = illimité
    error_rate: float = 0
    latency_spike_ms: float = 0
    latency_spike_ratio: float = 0
    reset_ratio: float = 0
    truncated_ratio: float = 0
    error_envelope_ratio: float = 0
    wrong_type_ratio: float = 0
    broken_message_ratio: float = 0
    # Un message du lot reçoit un champ du mauvais type (session_id à null) : la réponse reste
    # lisible, l'objet ne passe pas son schéma (validation de l'exportateur).
    invalid_field_ratio: float = 0
    # Pannes données une à une aux appels suivants (noms de PLANNED_FAULTS), avant tout
    # tirage : un appel planifié reçoit sa panne et aucune autre, sans passer par le seau.
    fault_plan: tuple[str, ...] = ()

    def updated(self, changes: dict) -> "FaultOptions":
        """Nouvelle configuration ; ValueError (message en français) si invalide."""
        known = {field.name for field in fields(self)}
        unknown = sorted(set(changes) - known)
        if unknown:
            raise ValueError(f"option(s) de panne inconnue(s) : {', '.join(unknown)}")
        values = {}
        for name, value in changes.items():
            if name == "retry_after" and value is None:
                values[name] = None
                continue
            if name == "fault_plan":
                values[name] = validated(value)
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"{name} doit être un nombre positif ou nul")
            if name in _RATIO_FIELDS and value > 1:
                raise ValueError(f"{name} doit être compris entre 0 et 1")
            if name in _STATUS_FIELDS and value not in RATE_LIMIT_STATUSES:
                raise ValueError(f"{name} doit valoir 429, 420 ou 422")
            if name in ("quota", *_STATUS_FIELDS):
                value = int(value)
            if name == "retry_after":
                value = math.ceil(value)  # Retry-After n'accepte que des secondes entières
            values[name] = value
        return replace(self, **values)

    def as_dict(self) -> dict:
        return asdict(self)


class FaultState:
    """Pannes en cours : options, seau à jetons, compteur de quota, tirages."""

    def __init__(self, options: FaultOptions, seed: int, error_payload: ErrorPayload = crisp_error_payload) -> None:
        self.initial = options
        self.error_payload = error_payload
        self.options = options
        self._rng = random.Random(f"{seed}:faults")
        self.quota_used = 0
        # Statut du dernier refus décidé par take_token (limite de débit ou tirage).
        self._refusal_status = options.rate_limit_status
        self._plan = FaultPlan(options.fault_plan)
        self._refill_bucket()

    def configure(self, changes: dict) -> FaultOptions:
        self.options = self.options.updated(changes)
        if "rate_limit" in changes:
            self._refill_bucket()
        if "fault_plan" in changes:
            self._plan = FaultPlan(self.options.fault_plan)
        return self.options

    def restore(self) -> FaultOptions:
        """Revient aux options du lancement (ligne de commande)."""
        self.options = self.initial
        self._plan = FaultPlan(self.initial.fault_plan)
        self._refill_bucket()
        return self.options

    @property
    def planned_left(self) -> int:
        """Pannes du plan pas encore données."""
        return len(self._plan)

    def give_back(self) -> None:
        """L'appel répond sans passer par la panne planifiée (erreur de l'API, route d'une
        doublure) : elle revient au plan (fault_plan.py)."""
        self._plan.give_back()

    def reset_quota(self) -> None:
        self.quota_used = 0

    def _chance(self, ratio: float) -> bool:
        return ratio > 0 and self._rng.random() < ratio

    def _fault(self, name: str, ratio: float) -> bool:
        """La panne ``name`` pour cet appel : celle du plan s'il en a une, sinon un tirage."""
        planned = self._plan.current()
        if planned is not None:
            return planned == name
        return self._chance(ratio)

    # ------------------------------------------------------------- avant traitement

    def delay_seconds(self) -> float:
        """Latence fixe, plus un pic occasionnel plus long que le délai d'un client.

        Première étape de chaque appel : c'est ici qu'il reçoit sa panne planifiée."""
        self._plan.start_call()
        delay = self.options.latency_ms
        if self._fault("latency_spike", self.options.latency_spike_ratio):
            delay += self.options.latency_spike_ms
        return delay / 1000

    def should_reset(self) -> bool:
        return self._fault("reset", self.options.reset_ratio)

    def _refill_bucket(self) -> None:
        # Capacité d'une seconde de débit : une courte rafale passe, pas davantage.
        self._tokens = max(1.0, self.options.rate_limit)
        self._bucket_time = time.monotonic()

    def take_token(self) -> bool:
        """Consomme un jeton ; faux si l'appel est refusé (débit dépassé ou tirage au sort).

        Le tirage passe avant le seau : un refus aléatoire ne consomme aucun jeton, il ne
        dépend en rien du rythme du client.
        """
        if self._fault("throttle", self.options.throttle_ratio):
            self._refusal_status = self.options.throttle_status
            return False
        if self._plan.current() is not None:
            return True
        self._refusal_status = self.options.rate_limit_status
        rate = self.options.rate_limit
        if rate <= 0:
            return True
        now = time.monotonic()
        self._tokens = min(max(1.0, rate), self._tokens + (now - self._bucket_time) * rate)
        self._bucket_time = now
        if self._tokens >= 1:
            self._tokens -= 1
            return True
        return False

    def rate_limited_response(self) -> web.Response:
        """Refus du dernier take_token : 429 (ou 420/422), corps JSON ou page HTML selon
        non_json_429_ratio."""
        status = self._refusal_status
        phrase = _STATUS_PHRASES[status]
        headers = {}
        if self.options.retry_after is not None:
            headers["Retry-After"] = str(self.options.retry_after)
        if self._chance(self.options.non_json_429_ratio):
            return raw_response(status, _html_page(status, phrase), "text/html", reason=phrase, headers=headers)
        body = self.error_payload(status, "Trop de requêtes, ralentissez.")
        return json_response(status, body, reason=phrase, headers=headers)

    def check_quota(self) -> None:
        """Compte l'appel ; CrispError 423 une fois le quota épuisé."""
        quota = self.options.quota
        if quota and self.quota_used >= quota:
            self._plan.give_back()
            raise CrispError("quota_limit_exceeded", "Quota journalier de requêtes dépassé.", "quota")
        self.quota_used += 1

    def server_error_response(self) -> web.Response | None:
        """Erreur 5xx aléatoire : 500 en JSON, 502/503 en HTML (répartiteur de charge)."""
        planned = self._plan.current()
        if planned is not None:
            if not planned.startswith("error_5"):
                return None
            status = int(planned[len("error_"):])
        elif not self._chance(self.options.error_rate):
            return None
        else:
            status = self._rng.choice((500, 502, 503))
        if status == 500:
            return json_response(500, self.error_payload(500, "Erreur interne simulée."))
        phrase = {502: "Bad Gateway", 503: "Service Temporarily Unavailable"}[status]
        return raw_response(status, _html_page(status, phrase), "text/html", reason=phrase)

    # ------------------------------------------------------------- après traitement

    def success_response(self, status: int, data: object, kind: str) -> web.Response:
        """Réponse de succès, éventuellement abîmée (une seule panne par réponse)."""
        options = self.options
        if self._fault("truncated", options.truncated_ratio):
            body = dumps(success_body(data))
            return raw_response(status, body[: max(1, len(body) // 2)], JSON_CONTENT_TYPE)
        if self._fault("error_envelope", options.error_envelope_ratio):
            return json_response(200, error_body("internal_error", "Erreur simulée dans une réponse 200.", "server"))
        if self._fault("wrong_type", options.wrong_type_ratio):
            data = {"items": data} if isinstance(data, list) else [data]
        elif kind == "messages" and data and self._fault("broken_messages",
                                                         options.broken_message_ratio):
            data = self._break_messages(data)
        elif kind == "conversations" and data and self._fault("broken_messages",
                                                              options.broken_message_ratio):
            data = self._break_listing(data)
        elif kind in ("conversations", "messages") and self._fault("empty_list", 0):
            data = []  # page ou lot vide par erreur (plan seulement) : rien ne doit en suivre
        elif kind == "conversations" and len(data) > 1 and self._fault("unsorted_list", 0):
            data = data[::-1]  # page hors de l'ordre d'activité que suppose le balayage
        elif kind == "messages" and data and self._plan.current() is None \
                and self._chance(options.invalid_field_ratio):
            data = list(data)
            position = self._rng.randrange(len(data))
            data[position] = {**data[position], "session_id": None}
        elif self._plan.current() in ("broken_messages", "empty_list", "unsorted_list"):
            self._plan.give_back()  # rien à abîmer (page vide, autre route)
        return json_response(status, success_body(data))

    def _break_listing(self, page: list) -> list:
        """Remplace une conversation de la page par autre chose qu'un objet (copie)."""
        broken = list(page)
        broken[self._rng.randrange(len(broken))] = self._rng.choice((None, "session_", 42))
        return broken

    def _break_messages(self, batch: list[dict]) -> list[dict]:
        """Retire l'empreinte ou l'horodatage de quelques messages (copies)."""
        broken = list(batch)
        victims = self._rng.sample(range(len(batch)), max(1, len(batch) // 10))
        for position in victims:
            message = dict(broken[position])
            message.pop(self._rng.choice(("fingerprint", "timestamp")), None)
            broken[position] = message
        return broken
