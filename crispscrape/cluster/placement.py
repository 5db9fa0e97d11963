"""Où placer chaque site sur les nœuds scrapyd : logique pure, sans réseau.

- Un site déjà en attente (pending) ou en cours (running) sur un nœud, quel qu'il soit,
  n'est pas replanifié : jamais deux exports du même site à la fois. scrapyd ne montre les
  arguments que des jobs en attente ; c'est pourquoi l'identifiant de job que donne la
  commande porte le site (``{site}_{hasard}``), lisible aussi pour les jobs en cours.
- Les autres sites vont aux nœuds utilisables, répartis à charge égale (jobs en cours et en
  attente compris), chaque site préférant toujours les mêmes nœuds (hachage « rendez-vous ») :
  d'une exécution à l'autre, un site retourne sur le même nœud tant que celui-ci répond, et
  seuls les sites d'un nœud arrêté changent de place.
"""

from __future__ import annotations

import hashlib
import math
import re
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

_UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
_JOB_ID = re.compile(rf"(?P<website>{_UUID})_[0-9a-f]{{12}}")


def new_job_id(website: str) -> str:
    """Identifiant de job qui nomme le site (visible dans listjobs.json, même en cours)."""
    return f"{website}_{uuid.uuid4().hex[:12]}"


def website_of_job(entry: Mapping) -> str | None:
    """Le site d'un job de listjobs.json : son argument website, sinon son identifiant."""
    args = entry.get("args")
    if isinstance(args, Mapping) and isinstance(args.get("website"), str):
        return args["website"].strip().lower()
    found = _JOB_ID.fullmatch(str(entry.get("id", "")))
    return found["website"] if found else None


@dataclass(frozen=True)
class BusyJob:
    """Un job d'un site, en attente ou en cours, sur un nœud."""

    node: str
    state: str  # pending | running
    job: str


def busy_websites(listings: Mapping[str, Mapping]) -> dict[str, BusyJob]:
    """Site -> job en attente ou en cours, d'après les listjobs.json de tous les nœuds."""
    busy: dict[str, BusyJob] = {}
    for node, listing in listings.items():
        for state in ("running", "pending"):
            for entry in listing.get(state, []):
                website = website_of_job(entry)
                if website is not None:
                    busy.setdefault(website, BusyJob(node, state, str(entry.get("id"))))
    return busy


def _score(website: str, node: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{website}|{node}".encode()).digest()[:8], "big")


def preference(website: str, nodes: Iterable[str]) -> list[str]:
    """Les nœuds dans l'ordre de préférence du site (stable, propre à chaque site)."""
    return sorted(nodes, key=lambda node: _score(website, node), reverse=True)


def place(websites: Iterable[str], loads: Mapping[str, int]) -> dict[str, str]:
    """Site -> nœud, pour des nœuds utilisables dont on connaît la charge actuelle.

    Aucun nœud ne dépasse la charge moyenne arrondie au-dessus ; dans cette limite, chaque
    site prend le premier nœud de sa préférence. Vide si aucun nœud n'est utilisable.
    """
    websites = list(websites)
    if not loads:
        return {}
    cap = math.ceil((sum(loads.values()) + len(websites)) / len(loads))
    counts = dict(loads)
    placed = {}
    for website in sorted(websites):
        node = next(node for node in preference(website, loads) if counts[node] < cap)
        counts[node] += 1
        placed[website] = node
    return placed
