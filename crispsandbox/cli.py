"""Ligne de commande : python -m crispsandbox [options]."""

from __future__ import annotations

import argparse
import ipaddress
import sys

from .defaults import (
    DEFAULT_CONVERSATIONS, DEFAULT_HOST, DEFAULT_IDENTIFIER, DEFAULT_KEY, DEFAULT_PORT,
    DEFAULT_SEED, DEFAULT_TIER, DEFAULT_WEBSITE_ID, TIERS,
)
from .faults import RATE_LIMIT_STATUSES, FaultOptions
from .server import serve
from .standins import cli as standins_cli
from .state import SandboxConfig
from .layer import run_server


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m crispsandbox",
        description="Bac à sable local compatible avec l'API REST Crisp v1 (données déterministes, pannes simulées).",
    )
    add = parser.add_argument
    add("--host", default=DEFAULT_HOST, help="adresse d'écoute, boucle locale uniquement (défaut : %(default)s)")
    add("--port", type=int, default=DEFAULT_PORT, help="port d'écoute, 0 = port libre (défaut : %(default)s)")
    add("--port-file", help="fichier où écrire le port choisi, une fois à l'écoute")
    add("--seed", type=int, default=DEFAULT_SEED, help="graine du jeu de données (défaut : %(default)s)")
    add("--conversations", type=int, default=DEFAULT_CONVERSATIONS, help="nombre de conversations (défaut : %(default)s)")
    add("--identifier", default=DEFAULT_IDENTIFIER, help="identifiant du jeton attendu (défaut : %(default)s)")
    add("--key", default=DEFAULT_KEY, help="clé du jeton attendue (défaut : %(default)s)")
    add("--tier", choices=TIERS, default=DEFAULT_TIER,
        help="niveau du jeton attendu (en-tête X-Crisp-Tier) : plugin, ou website pour un "
             "Website Token ; l'autre niveau est refusé en 401 (défaut : %(default)s)")
    add("--website-id", default=DEFAULT_WEBSITE_ID, help="identifiant du site (défaut : %(default)s)")
    add("--websites", type=int, default=1,
        help="nombre de sites servis par le même jeton, chacun ses données (défaut : %(default)s)")
    add("--latency-ms", type=float, default=0, help="latence ajoutée à chaque appel API")
    add("--rate-limit", type=float, default=0, help="requêtes par seconde permises, 0 = sans limite")
    add("--rate-limit-status", type=int, choices=RATE_LIMIT_STATUSES, default=429, help="statut des refus de débit")
    add("--throttle-ratio", type=float, default=0,
        help="probabilité d'un refus de débit tiré au hasard, indépendant du rythme (0..1)")
    add("--throttle-status", type=int, choices=RATE_LIMIT_STATUSES, default=420,
        help="statut des refus tirés au hasard (défaut : %(default)s)")
    add("--non-json-429-ratio", type=float, default=0.5, help="part des refus de débit en page HTML (0..1)")
    add("--retry-after", type=float, default=None, help="secondes annoncées par Retry-After (absent par défaut)")
    add("--quota", type=int, default=0, help="appels permis avant 423 quota_limit_exceeded, 0 = illimité")
    add("--error-rate", type=float, default=0, help="probabilité d'une erreur 500/502/503 par appel")
    standins_cli.add_arguments(parser)  # --system et les options des doublures ninja et wanzo
    add("--media-url", default=None,
        help="base des URL de fichiers des messages (défaut : ce serveur, sous un autre nom d'hôte)")
    add("--media-slow-seconds", type=float, default=2.0,
        help="durée d'envoi d'un fichier lent (défaut : %(default)s s)")
    return parser


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if not _is_loopback(args.host):
        print(f"Erreur : l'hôte « {args.host} » n'est pas une adresse de boucle locale ; "
              "le bac à sable n'écoute que sur 127.0.0.1, ::1 ou localhost.", file=sys.stderr)
        return 2
    if args.conversations < 0 or args.websites < 1 or not 0 <= args.port <= 65535:
        print("Erreur : --conversations doit être positif, --websites au moins 1 et --port "
              "compris entre 0 et 65535.", file=sys.stderr)
        return 2
    try:
        faults = FaultOptions().updated({
            "latency_ms": args.latency_ms, "rate_limit": args.rate_limit,
            "rate_limit_status": args.rate_limit_status, "non_json_429_ratio": args.non_json_429_ratio,
            "throttle_ratio": args.throttle_ratio, "throttle_status": args.throttle_status,
            "retry_after": args.retry_after, "quota": args.quota, "error_rate": args.error_rate,
        })
    except ValueError as error:
        print(f"Erreur : {error}.", file=sys.stderr)
        return 2
    if args.system != "crisp":
        return standins_cli.run(args, faults)
    config = SandboxConfig(
        seed=args.seed, conversations=args.conversations, identifier=args.identifier,
        key=args.key, website_id=args.website_id, faults=faults, websites=args.websites,
        media_url=args.media_url, media_slow_seconds=args.media_slow_seconds, tier=args.tier,
    )
    return run_server(serve(config, args.host, args.port, args.port_file), args.host, args.port)
