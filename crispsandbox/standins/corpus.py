"""Jeu de données commun aux doublures : fils de discussion neutres et leurs mutations.

Un fil (Thread) est une conversation ninja ou un contexte wanzo ; un message (Post) porte
les deux identifiants possibles : un entier global croissant avec le temps (ninja) et un
identifiant opaque, aléatoire, non triable (wanzo). Chaque système n'en montre qu'un.

Tout est déterminé par la graine et les tailles : même configuration, mêmes octets. Les
pièges sont voulus : conversations vides, longues (plusieurs pages), messages de la même
milliseconde, y compris à cheval sur chaque frontière de page (tous les 20 messages, donc
aussi tous les 100), et, en option, des identifiants hostiles.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Callable

from .. import vocab
from ..defaults import END_MS, HISTORY_MS
from ..seeds import rng_for, uuid_from
from .config import StandinConfig

# Tailles toujours présentes dès qu'il y a assez de conversations : vide, un message, page
# exacte et page + 1 (20 chez wanzo, 100 chez ninja) et une longue conversation.
SPECIAL_COUNTS = (0, 1, 20, 21, 100, 101, 250)
# Tous les PAGE_STEP messages, le message partage la milliseconde du précédent.
PAGE_STEP = 20
# Part des autres messages qui partagent la milliseconde du précédent.
TIE_RATIO = 0.1
# Identifiants hostiles (option) et leur nombre de messages ; NUL est impossible dans une URL.
HOSTILE_KEYS = ("../evil", "a/b", "long-" + ("0123456789abcdef" * 19)[:295])  # 300 caractères
HOSTILE_COUNTS = (2, 3, 25)
# Pas du temps simulé des mutations : une seconde par message ajouté.
MUTATION_STEP_MS = 1000

MakeKey = Callable[[random.Random], str]


@dataclass
class Post:
    """Un message, neutre : chaque système le présente à sa façon."""

    ts: int  # millisecondes
    customer: bool  # client (CUS / user) ou agent (AGE / assistant)
    content: str
    token: str  # identifiant opaque (wanzo)
    number: int = 0  # identifiant entier unique dans tout le système, croissant avec le temps (ninja)


@dataclass
class Thread:
    """Une conversation (ninja) ou un contexte (wanzo)."""

    index: int
    key: str
    name: str | None
    email: str | None
    created: int
    posts: list[Post] = field(default_factory=list)
    shape: tuple[float, float] = (1.0, 1.0)  # tirages fixes pour les options id_ratio, no_updated_ratio

    @property
    def updated(self) -> int:
        """Heure du dernier message (de la création si vide)."""
        return self.posts[-1].ts if self.posts else self.created


def _message_count(rng: random.Random, config: StandinConfig) -> int:
    draw = rng.random()
    if draw < config.empty_ratio:
        return 0
    if draw < config.empty_ratio + config.long_ratio:
        return config.long_messages
    return rng.randint(1, max(1, config.max_messages))


def _content(rng: random.Random, customer: bool, name: str | None) -> str:
    pool = vocab.USER_TEXTS if customer else vocab.OPERATOR_TEXTS
    return rng.choice(pool).format(n=rng.randrange(1000, 99999), nick=name or "à vous")


def _timestamps(rng: random.Random, start: int, count: int) -> list[int]:
    """Instants croissants ; ex aequo tirés au hasard et à chaque frontière de page."""
    stamps: list[int] = []
    moment = start
    for position in range(count):
        if position and (position % PAGE_STEP == 0 or rng.random() < TIE_RATIO):
            stamps.append(moment)  # même milliseconde que le précédent
            continue
        moment += rng.randint(1000, 3 * 3600 * 1000)
        stamps.append(moment)
    return stamps


def make_thread(seed: int, index: int, key: str, count: int, start: int, label: str = "thread") -> Thread:
    """Fil n° index et ses messages générés ; les numéros globaux viennent plus tard."""
    rng = rng_for(seed, label, index)
    first, last = rng.choice(vocab.FIRST_NAMES), rng.choice(vocab.LAST_NAMES)
    name = f"{first} {last}" if rng.random() < 0.8 else None
    email = f"{first}.{last}{index}@{rng.choice(vocab.DOMAINS)}".replace(" ", "") if rng.random() < 0.7 else None
    thread = Thread(index, key, name, email, start, shape=(rng.random(), rng.random()))
    customer = True
    for ts in _timestamps(rng, start + rng.randint(0, 600_000), count):
        thread.posts.append(Post(ts, customer, _content(rng, customer, name), uuid_from(rng)))
        customer = not customer if rng.random() < 0.7 else customer
    return thread


def _counts(seed: int, config: StandinConfig) -> list[int]:
    rng = rng_for(seed, "counts")
    counts = [_message_count(rng, config) for _ in range(config.conversations)]
    if config.conversations >= len(SPECIAL_COUNTS):
        for rank, count in enumerate(SPECIAL_COUNTS):
            counts[rank * config.conversations // len(SPECIAL_COUNTS)] = count
    return counts


def build_threads(config: StandinConfig, make_key: MakeKey) -> list[Thread]:
    """Fils de base, dans l'ordre de création, numéros globaux attribués."""
    seed = config.seed
    threads = []
    span = HISTORY_MS - 30 * 24 * 3600 * 1000
    for index, count in enumerate(_counts(seed, config)):
        rng = rng_for(seed, "key", index)
        threads.append(make_thread(seed, index, make_key(rng), count, END_MS - HISTORY_MS + rng.randrange(span)))
    if config.hostile_ids:
        for offset, (key, count) in enumerate(zip(HOSTILE_KEYS, HOSTILE_COUNTS, strict=True)):
            index = len(threads)
            threads.append(make_thread(seed, index, key, count, END_MS - HISTORY_MS + offset * 3600_000))
    threads.sort(key=lambda thread: (thread.created, thread.index))
    # Numéros globaux : l'ordre du temps, puis du fil, puis de la position.
    ranked = sorted(
        ((post.ts, thread.index, position, post) for thread in threads for position, post in enumerate(thread.posts)),
        key=lambda entry: entry[:3],
    )
    for number, entry in enumerate(ranked, start=1):
        entry[3].number = number
    return threads


class ThreadStore:
    """Fils en mémoire et leurs mutations (API d'administration, dérive des pages)."""

    def __init__(self, config: StandinConfig, make_key: MakeKey) -> None:
        self.config = config
        self._make_key = make_key
        self.threads: dict[str, Thread] = {thread.key: thread for thread in build_threads(config, make_key)}
        posts = [post for thread in self.threads.values() for post in thread.posts]
        self.next_number = max((post.number for post in posts), default=0) + 1
        latest = max([post.ts for post in posts] + [thread.created for thread in self.threads.values()], default=END_MS)
        self.clock = max(latest, END_MS) + 60_000  # les mutations viennent après tout le reste
        self.mutations = 0  # compteur des ajouts : chacun a son propre générateur
        self.created = 0  # compteur des fils créés : chacun a sa propre graine

    def _tick(self, same_timestamp: bool) -> int:
        if not same_timestamp:
            self.clock += MUTATION_STEP_MS
        return self.clock

    def get(self, key: str) -> Thread:
        """Fil par identifiant ; KeyError s'il n'existe pas (ou plus)."""
        return self.threads[key]

    def append(self, key: str, count: int = 1, same_timestamp: bool = False, customer: bool | None = None) -> list[Post]:
        """Ajoute count messages, plus récents que tout ; same_timestamp : tous à la même milliseconde."""
        thread = self.get(key)
        if not 1 <= count <= 10_000:
            raise ValueError("count doit être compris entre 1 et 10000")
        rng = rng_for(self.config.seed, "append", self.mutations)
        self.mutations += 1
        added = []
        for position in range(count):
            speaker = (position % 2 == 0) if customer is None else customer
            ts = self._tick(same_timestamp and position > 0)
            post = Post(ts, speaker, _content(rng, speaker, thread.name), uuid_from(rng), self.next_number)
            self.next_number += 1
            thread.posts.append(post)
            added.append(post)
        return added

    def create(self, messages: int = 0) -> Thread:
        """Nouveau fil (créé maintenant, en temps simulé), avec messages messages."""
        if not 0 <= messages <= 10_000:
            raise ValueError("messages doit être compris entre 0 et 10000")
        index = 1_000_000 + self.created
        self.created += 1
        rng = rng_for(self.config.seed, "created", index)
        key = self._make_key(rng)
        thread = make_thread(self.config.seed, index, key, 0, self._tick(False), label="created")
        self.threads[key] = thread
        if messages:
            self.append(key, messages)
        return thread

    def delete(self, key: str) -> None:
        """Supprime un fil et ses messages ; KeyError s'il n'existe pas."""
        del self.threads[key]
