"""Le débit permis d'un slot de téléchargement, trouvé par essais et retrouvé après un refus.

Deux sortes de refus (429/420) arrivent de l'API, et la bonne réaction est opposée :

- **limite de débit réelle** (R requêtes/s) : au-delà de R, les refus se multiplient ; il faut
  passer sous R, puis y revenir sans la redépasser sans cesse (sinon un 429 par seconde) ;
- **refus sporadiques**, sans rapport avec notre rythme (répartiteur chargé par d'autres) :
  ralentir n'y change rien. L'ancienne règle (délai × 1,5 par refus, relâché de 0,5 % par
  réponse) y voyait une limite toujours plus basse : 8 % de refus faisaient tomber le débit
  de ~104 à 4 requêtes/s.

D'où un limiteur qui *vérifie* chaque ralentissement, comme une expérience :

1. un refus divise le débit permis par CRISP_THROTTLE_DELAY_FACTOR (par 2 tant qu'aucune
   limite n'est connue), à partir de ce que l'API accepte vraiment, et ouvre un essai ;
2. si les refus cessent pendant l'essai, c'était bien notre rythme : le débit d'avant devient
   le plafond trouvé ; le débit y remonte en CRISP_THROTTLE_RECOVERY_TIME secondes, puis le
   dépasse doucement (CRISP_THROTTLE_PROBE_RATE par seconde, de plus en plus vite avec le
   temps) pour suivre une limite qui monterait. Le creux laisse le seau de l'API se remplir :
   le débit moyen reste proche de R, et le refus suivant n'arrive qu'après plusieurs secondes ;
3. si les refus restent massifs (la moitié des réponses, ou 30 % sur au moins cinq refus),
   on est loin au-dessus d'une vraie limite : nouveau ralentissement, plus bas, sans attendre
   la fin de l'essai ; de même si les refus ont reculé sans cesser ;
4. si les refus continuent, clairsemés, autant qu'avant, ils ne venaient pas de nous : le
   débit d'avant est rétabli, et les refus isolés sont ignorés un temps (2 s, puis 4 s… 32 s).

Les mesures viennent des réponses elles-mêmes (débit total, débit accepté, part de refus) ;
la classe est pure (horloge passée en argument) et testée seule dans tests/unit/.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

# Fenêtre de mesure du débit (secondes), et réponses en dessous desquelles un refus isolé ne
# dit rien du débit (fin de crawl, pagination d'une seule conversation : c'est la demande
# qu'on mesurerait, pas ce que l'API permet).
WINDOW = 1.0
MIN_SAMPLES = 10
# Refus massifs (une vraie limite, jamais du bruit) : 3 refus et la moitié des réponses, ou
# 5 refus et 30 % des réponses.
HEAVY = ((3, 0.5), (5, 0.30))
HEAVY_SHARE = min(share for _, share in HEAVY)
# Division du débit au premier refus (aucune limite connue), et division maximale.
FIRST_CUT = 2.0
MAX_CUT = 4.0
# Réponses ignorées juste après un ralentissement (requêtes parties avant lui) : au moins
# GUARD secondes, deux latences et deux intervalles au nouveau rythme.
GUARD = 0.05
# Essai : au moins TRIAL_SECONDS, et assez de réponses sans refus pour écarter le hasard
# (voir _responses_needed), entre TRIAL_RESPONSES et TRIAL_MAX_RESPONSES ; un refus parmi
# les STRAGGLERS premières réponses est toléré (le seau de l'API, vide au moment du
# ralentissement, n'a pas encore eu le temps de se remplir).
TRIAL_SECONDS = 1.0
TRIAL_RESPONSES = 20
TRIAL_MAX_RESPONSES = 40
STRAGGLERS = 5
CONFIDENCE = 0.05
# Réponses à partir desquelles deux refus clairsemés pendant l'essai jugent le ralentissement.
UNDO_RESPONSES = 10
# Période pendant laquelle les refus isolés sont ignorés après un essai sans effet.
QUIET_START = 2.0
QUIET_MAX = 32.0
# Au-delà du plafond, la hausse par seconde double tous les PROBE_DOUBLING secondes passées
# sans ralentissement justifié.
PROBE_DOUBLING = 5.0
# Au-delà de ce multiple du débit réel, la limite ne limite plus rien : elle est oubliée.
RELEASE_FACTOR = 2.0


def _heavy(refusals: int, share: float) -> bool:
    return any(refusals >= count and share >= minimum for count, minimum in HEAVY)


def _responses_needed(share: float) -> int:
    """Réponses sans refus à voir pour écarter le hasard : si les refus continuaient à la même
    part ``share``, n'en voir aucun n'aurait que CONFIDENCE de chances."""
    count = math.log(CONFIDENCE) / math.log1p(-min(max(share, 0.01), 0.5))
    return min(TRIAL_MAX_RESPONSES, max(TRIAL_RESPONSES, math.ceil(count)))


@dataclass
class _Trial:
    """Un ralentissement en cours de vérification."""

    started: float
    judged_from: float  # réponses comptées à partir de cet instant
    restore: float | None  # débit à rétablir si les refus ne venaient pas de nous
    share_before: float  # part de refus juste avant ce ralentissement
    ceiling: float  # plafond à retenir si le ralentissement était justifié
    needed: int  # réponses sans refus qui prouvent que le ralentissement a suffi
    real: bool  # refus massifs vus dans cet épisode : une vraie limite, pas du hasard
    responses: int = 0
    refusals: int = 0
    late_refusals: int = 0  # refus après les STRAGGLERS premières réponses

    @property
    def share(self) -> float:
        return self.refusals / self.responses if self.responses else 0.0

    def accepted_rate(self, now: float) -> float:
        # Une réponse de plus au compte : sur quelques dixièmes de seconde, aucune réponse
        # acceptée ne veut pas dire une limite nulle.
        return (self.responses - self.refusals + 1) / max(GUARD, now - self.judged_from)


class RateLimiter:
    """Débit permis (requêtes/s) d'un slot ; ``None`` tant qu'aucune limite n'est connue."""

    def __init__(self, *, cut_factor: float, recovery_time: float, probe_rate: float,
                 min_rate: float):
        self.cut_factor = cut_factor
        self.recovery_time = recovery_time
        self.probe_rate = probe_rate
        self.min_rate = min_rate
        self.rate: float | None = None
        self.ceiling = 0.0
        self._window: deque[tuple[float, bool]] = deque()
        self._started: float | None = None
        self._trial: _Trial | None = None
        self._quiet_until = -math.inf
        self._quiet_span = QUIET_START
        self._confirmed_at = -math.inf
        self._recovery_step = 0.0  # hausse par seconde jusqu'au plafond, fixée à la confirmation
        self._last_increase: float | None = None
        # Réponses acceptées depuis le début, et repère (instant, compte) du dernier
        # ralentissement : voir _accepted_since_cut.
        self._accepted = 0
        self._mark: tuple[float, int] = (0.0, 0)

    def min_delay(self) -> float:
        """Délai minimal entre deux requêtes du slot (0 : pas de limite)."""
        return 0.0 if self.rate is None else 1.0 / self.rate

    def record(self, now: float, refused: bool, latency: float = 0.0) -> str | None:
        """Une réponse reçue ; renvoie l'événement éventuel (pour les stats et le journal) :
        "cut", "deeper", "confirmed", "undone" ou "released"."""
        self._remember(now, refused)
        if self._trial is not None:
            return self._judge(now, refused, latency)
        if refused:
            return self._on_refusal(now, latency)
        return self._increase(now)

    # --- Mesures ------------------------------------------------------------------------
    def _remember(self, now: float, refused: bool) -> None:
        if self._started is None:
            self._started, self._mark = now, (now, 0)
        self._accepted += not refused
        self._window.append((now, refused))
        while self._window[0][0] < now - WINDOW:
            self._window.popleft()

    def _measure(self, now: float) -> tuple[float, float, int]:
        """(débit total, débit accepté, refus) sur la dernière seconde.

        Le débit total est le plus haut de la seconde entière et des MIN_SAMPLES dernières
        réponses : juste après un creux de la demande, la seconde entière le sous-estime.
        """
        span = max(GUARD, min(WINDOW, now - self._started))
        refusals = sum(1 for _, refused in self._window if refused)
        total = len(self._window) / span
        if len(self._window) >= MIN_SAMPLES:
            recent = now - self._window[-MIN_SAMPLES][0]
            total = max(total, (MIN_SAMPLES - 1) / max(GUARD, recent))
        return total, (len(self._window) - refusals) / span, refusals

    def _accepted_since_cut(self, now: float, recent: float) -> float:
        """Débit accepté depuis le dernier ralentissement (la dernière seconde si c'est plus
        court). D'un refus au suivant, le seau de l'API part vide et finit vide : ce qu'il a
        accepté entre les deux est sa limite même, sans la rafale d'un seau plein."""
        since, count = self._mark
        return recent if now - since < WINDOW else (self._accepted - count) / (now - since)

    # --- Ralentir -----------------------------------------------------------------------
    def _on_refusal(self, now: float, latency: float) -> str | None:
        total, accepted, refusals = self._measure(now)
        share = refusals / len(self._window)
        heavy = _heavy(refusals, share)
        if not heavy and (now < self._quiet_until or len(self._window) < MIN_SAMPLES):
            return None  # refus isolé : la requête refusée attend seule son recul
        current = total if self.rate is None else min(self.rate, total)
        accepted = self._accepted_since_cut(now, accepted)
        self._mark = (now, self._accepted)
        # Sans limite connue, on ne sait pas de combien on la dépasse : premier pas plus grand.
        factor = self.cut_factor if self.rate is not None else max(self.cut_factor, FIRST_CUT)
        self._cut(now, latency, current, accepted, share, factor, restore=self.rate,
                  ceiling=min(current, accepted), real=heavy)
        return "cut"

    def _cut(self, now: float, latency: float, current: float, accepted: float, share: float,
             factor: float, *, restore: float | None, ceiling: float, real: bool) -> None:
        target = max(current / MAX_CUT, min(current, accepted) / factor)
        self.rate = max(self.min_rate, target)
        self._trial = _Trial(
            started=now, judged_from=now + max(GUARD, 2 * latency, 2 / self.rate),
            restore=restore, share_before=share, ceiling=ceiling, real=real,
            needed=_responses_needed(share))

    def _judge(self, now: float, refused: bool, latency: float) -> str | None:
        trial = self._trial
        if now < trial.judged_from:
            return None  # réponse à une requête partie avant le ralentissement
        trial.responses += 1
        trial.refusals += refused
        trial.late_refusals += refused and trial.responses > STRAGGLERS
        if refused:
            if _heavy(trial.refusals, trial.share):
                trial.real = True
                return self._deeper(now, latency)  # encore loin au-dessus de la limite
            if trial.share >= HEAVY_SHARE:
                return None  # peut-être massifs : attendre d'en être sûr
            # Un refus seul ne juge rien (juste après un ralentissement, le seau de l'API est
            # encore presque vide), ni deux parmi les toutes premières réponses.
            if trial.refusals < 2 or trial.responses < UNDO_RESPONSES:
                return None
            if trial.share < trial.share_before / 2:
                return self._deeper(now, latency)  # les refus ont reculé sans cesser
            return self._confirm(now) if trial.real else self._not_our_rate(now)
        if now - trial.started < TRIAL_SECONDS or trial.refusals > 1:
            return None
        if trial.responses >= trial.needed + STRAGGLERS and not trial.late_refusals \
                or trial.responses >= 2 * trial.needed:
            # Assez de réponses sans refus (un seul toléré, tout au début ; ou un seul sur
            # deux fois plus de réponses) pour que le hasard ne l'explique pas : c'était bien
            # notre rythme. Si la demande baisse avant, l'essai attend : le débit réduit ne
            # gêne alors personne.
            return self._confirm(now)
        return None

    def _deeper(self, now: float, latency: float) -> str:
        trial = self._trial
        _, accepted, refusals = self._measure(now)
        # Pendant l'essai, le seau de l'API est vide : ce qu'elle accepte alors est la
        # meilleure mesure de sa limite (la dernière seconde compte encore la rafale).
        accepted = min(accepted, trial.accepted_rate(now))
        # Le prochain débit se déduit aussi de la part refusée à celui de l'essai (plus
        # rapide quand on est loin au-dessus), mais ce calcul sur quelques réponses est trop
        # bruité pour fixer le plafond.
        target = min(accepted, self.rate * (1 - trial.share))
        self._cut(now, latency, self.rate, target, refusals / len(self._window),
                  self.cut_factor, restore=trial.restore, ceiling=min(trial.ceiling, accepted),
                  real=trial.real)
        return "deeper"

    def _confirm(self, now: float) -> str:
        """C'était bien notre rythme : le débit d'avant devient le plafond vers lequel on
        remonte."""
        self.ceiling = max(self.rate, self._trial.ceiling)
        self._recovery_step = (self.ceiling - self.rate) / self.recovery_time
        self._quiet_span = QUIET_START
        self._confirmed_at = now
        self._end_trial(now)
        return "confirmed"

    def _not_our_rate(self, now: float) -> str:
        """Les refus continuent, autant qu'avant, malgré le ralentissement : ils ne venaient
        pas de notre rythme. Le débit d'avant revient ; les refus isolés seront ignorés un temps."""
        self.rate = self._trial.restore
        self._quiet_until = now + self._quiet_span
        self._quiet_span = min(QUIET_MAX, 2 * self._quiet_span)
        self._end_trial(now)
        return "undone"

    def _end_trial(self, now: float) -> None:
        self._trial = None
        self._last_increase = now

    # --- Revenir au débit trouvé, puis le dépasser doucement -------------------------------
    def _increase(self, now: float) -> str | None:
        if self.rate is None:
            return None
        elapsed = min(1.0, now - (self._last_increase or now))
        self._last_increase = now
        if self.rate < self.ceiling:
            self.rate = min(self.ceiling, self.rate + self._recovery_step * elapsed)
        else:
            # De plus en plus vite à mesure que le temps passe depuis le dernier
            # ralentissement justifié : un plafond trouvé par erreur (creux de la demande,
            # refus sporadiques) ou une limite qui a monté ne bride pas le crawl longtemps.
            calm = min(now - self._confirmed_at, 6 * PROBE_DOUBLING)
            self.rate *= 1 + self.probe_rate * (1 + calm / PROBE_DOUBLING) * elapsed
        total, _, _ = self._measure(now)
        if now - self._started >= WINDOW and self.rate > RELEASE_FACTOR * max(total, self.ceiling):
            self.rate, self.ceiling = None, 0.0
            return "released"
        return None
