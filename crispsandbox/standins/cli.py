"""Options de la ligne de commande propres aux doublures ninja et wanzo.

python -m crispsandbox --system ninja|wanzo [options] : les options communes (hôte, port,
graine, nombre de conversations, pannes) sont celles du bac à sable Crisp (crispsandbox/cli.py).
"""

from __future__ import annotations

import argparse
import sys

from ..faults import FaultOptions
from .app import serve
from .config import LIST_ORDERS, SYSTEMS, StandinConfig
from ..layer import run_server


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Ajoute --system et le groupe des options des doublures."""
    parser.add_argument("--system", choices=("crisp", *SYSTEMS), default="crisp",
                        help="système simulé : crisp (défaut), ninja (Django Ninja) ou wanzo (portefeuille Wanzo)")
    group = parser.add_argument_group("doublures ninja et wanzo (--system ninja|wanzo)")
    add = group.add_argument
    add("--token", default=None,
        help="jeton Bearer exigé (ninja : aucun par défaut ; wanzo : toujours exigé, wanzo-sandbox-token par défaut)")
    add("--max-messages", type=int, default=30, help="conversations ordinaires : de 1 à N messages (défaut : %(default)s)")
    add("--empty-ratio", type=float, default=0.1, help="part de conversations vides (défaut : %(default)s)")
    add("--long-ratio", type=float, default=0.05, help="part de longues conversations (défaut : %(default)s)")
    add("--long-messages", type=int, default=250, help="taille d'une longue conversation (défaut : %(default)s)")
    add("--hostile-ids", action="store_true", help="ajoute les identifiants « ../evil », « a/b » et un de 300 caractères")
    add("--id-ratio", type=float, default=0.0, help="ninja : part des conversations listées avec « id » au lieu de « uuid »")
    add("--no-updated-ratio", type=float, default=0.0, help="ninja : part des conversations listées sans « updated »")
    add("--list-order", choices=LIST_ORDERS, default="hash",
        help="ninja : ordre de la liste, hash (change avec les données) ou shuffle (à chaque appel)")
    add("--drift-every", type=int, default=0, help="wanzo : toutes les K listes de contextes, des contextes bougent (0 = jamais)")
    add("--drift-contexts", type=int, default=1, help="wanzo : nombre de contextes déplacés à chaque dérive (défaut : %(default)s)")


def run(args: argparse.Namespace, faults: FaultOptions) -> int:
    """Lance la doublure choisie par --system ; code de sortie."""
    ratios = {"--empty-ratio": args.empty_ratio, "--long-ratio": args.long_ratio,
              "--id-ratio": args.id_ratio, "--no-updated-ratio": args.no_updated_ratio}
    invalid = [name for name, value in ratios.items() if not 0 <= value <= 1]
    if args.empty_ratio + args.long_ratio > 1:
        invalid.append("--empty-ratio + --long-ratio")
    if invalid or args.max_messages < 1 or args.long_messages < 1 or args.drift_every < 0 or args.drift_contexts < 1:
        print("Erreur : options des doublures invalides (parts entre 0 et 1, tailles au moins 1, "
              f"--drift-every positif ou nul){' : ' + ', '.join(invalid) if invalid else ''}.", file=sys.stderr)
        return 2
    config = StandinConfig(
        system=args.system, seed=args.seed, conversations=args.conversations, token=args.token or None,
        max_messages=args.max_messages, empty_ratio=args.empty_ratio, long_ratio=args.long_ratio,
        long_messages=args.long_messages, hostile_ids=args.hostile_ids, id_ratio=args.id_ratio,
        no_updated_ratio=args.no_updated_ratio, list_order=args.list_order, drift_every=args.drift_every,
        drift_contexts=args.drift_contexts, faults=faults,
    )
    return run_server(serve(config, args.host, args.port, args.port_file), args.host, args.port)
