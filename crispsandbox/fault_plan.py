"""Plan de pannes du bac à sable (option ``fault_plan``) : chaque sorte de panne à coup sûr.

Les pannes sont tirées au hasard (graine fixe), mais l'ordre d'arrivée des appels
concurrents dépend du rythme de la machine : une épreuve courte pouvait ne jamais tirer
telle sorte de panne. Un plan donne aux appels suivants, un par un, exactement la panne
dite, avant tout tirage ; un appel planifié n'en reçoit aucune autre.
"""

from __future__ import annotations

from collections import deque
from contextvars import ContextVar

# Pannes qu'un plan peut donner à un appel, chacune exactement.
PLANNED_FAULTS = ("latency_spike", "reset", "throttle", "error_500", "error_502", "error_503",
                  "truncated", "error_envelope", "wrong_type", "broken_messages", "empty_list",
                  "unsorted_list")
# Pannes données avant la réponse : toujours reçues par l'appel qui les tire.
_BEFORE_ANSWER = ("latency_spike", "reset", "throttle")

# Panne planifiée de l'appel en cours : aiohttp sert chaque appel dans sa propre tâche, qui a
# sa copie du contexte ; les étapes d'un même appel (latence, coupure, jeton…) la retrouvent
# même quand d'autres appels sont servis pendant sa latence.
_CURRENT: ContextVar[str | None] = ContextVar("crispsandbox_planned_fault", default=None)


def validated(value: object) -> tuple[str, ...]:
    """Le plan tel que reçu (liste de noms) ; ValueError en français sinon."""
    if not isinstance(value, (list, tuple)) or not all(v in PLANNED_FAULTS for v in value):
        raise ValueError("fault_plan doit être une liste de pannes parmi : "
                         + ", ".join(PLANNED_FAULTS))
    return tuple(value)


class FaultPlan:
    """Les pannes planifiées qui restent à donner, et celle de l'appel en cours."""

    def __init__(self, faults: tuple[str, ...] = ()) -> None:
        self._left = deque(faults)

    def __len__(self) -> int:
        return len(self._left)

    def start_call(self) -> None:
        """Début d'un appel : il prend la panne suivante du plan (ou aucune)."""
        _CURRENT.set(self._left.popleft() if self._left else None)

    @staticmethod
    def current() -> str | None:
        """La panne planifiée de cet appel ; None : l'appel suit les tirages."""
        return _CURRENT.get()

    def give_back(self) -> None:
        """La panne de cet appel n'a pas pu lui être donnée (quota épuisé, erreur de l'API,
        rien à abîmer) : elle revient en tête du plan, pour l'appel suivant."""
        planned = _CURRENT.get()
        if planned is not None and planned not in _BEFORE_ANSWER:
            self._left.appendleft(planned)
            _CURRENT.set(None)
