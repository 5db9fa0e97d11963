"""Couche commune des pannes et des compteurs, devant les routes d'une API simulée.

Le bac à sable Crisp (server.py) et les doublures des autres systèmes (standins/) passent
par les mêmes étapes, dans le même ordre : latence, coupure, débit (le répartiteur de
charge, avant toute authentification), jeton, quota, 5xx aléatoire, puis la route. Seuls
changent le contrôle du jeton et la forme JSON des erreurs (FaultState.error_payload).
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import struct
import time
from typing import Awaitable, Callable

from aiohttp import web

from .envelope import CrispError, json_response
from .faults import FaultState
from .stats import RESET_STATUS, CallStats

# Contrôle d'accès : None si l'appel est admis, sinon la réponse de refus (401...).
Authorize = Callable[[web.Request], "web.Response | None"]
Handle = Callable[[], Awaitable[web.Response]]


def abort_connection(request: web.Request) -> None:
    """Coupe la connexion sans réponse : SO_LINGER à 0 envoie un RST au client."""
    transport = request.transport
    if transport is None:
        return
    sock = transport.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()


async def _admit(request: web.Request, faults: FaultState, authorize: Authorize, handle: Handle) -> web.Response | None:
    """Les étapes de la couche ; None si la connexion a été coupée."""
    delay = faults.delay_seconds()
    if delay > 0:
        await asyncio.sleep(delay)
    if faults.should_reset():
        abort_connection(request)
        return None
    if not faults.take_token():
        return faults.rate_limited_response()
    refusal = authorize(request)
    if refusal is not None:
        faults.give_back()
        return refusal
    try:
        faults.check_quota()
    except CrispError as error:
        return json_response(error.status, faults.error_payload(error.status, error.message))
    failure = faults.server_error_response()
    if failure is not None:
        return failure
    # Les doublures n'abîment pas leurs réponses : une panne planifiée de cette sorte reste
    # au plan (docs/sandbox.md).
    faults.give_back()
    return await handle()


async def guarded(
    request: web.Request, faults: FaultState, stats: CallStats, kind: str, key: str | None,
    authorize: Authorize, handle: Handle,
) -> web.StreamResponse:
    """Sert un appel API derrière la couche de pannes et le compte (nature, clé, statut).

    ``key`` : la conversation visée (compteur par conversation), None pour une liste.
    """
    arrival = time.monotonic()
    stats.record_call(kind, key)
    response = await _admit(request, faults, authorize, handle)
    if response is None:
        stats.record_status(RESET_STATUS, arrival)
        return web.Response()  # jamais envoyée : la connexion est déjà fermée
    stats.record_status(response.status, arrival)
    return response


# --- Démarrage d'un serveur (bac à sable Crisp et doublures) ----------------------------
async def start_site(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int, str]:
    """Met ``app`` à l'écoute ; (runner, port réel, hôte tel qu'on l'écrit dans une URL)."""
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, host, port, shutdown_timeout=1.0)
    await site.start()
    actual_port = runner.addresses[0][1]
    return runner, actual_port, f"[{host}]" if ":" in host else host


def write_port_file(path: str, port: int) -> None:
    """Écriture atomique : le lecteur ne voit jamais un fichier à moitié écrit."""
    temporary = os.path.join(os.path.dirname(path) or ".",
                             f".{os.path.basename(path)}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as handle:
        handle.write(f"{port}\n")
    os.replace(temporary, path)


async def wait_for_stop(runner: web.AppRunner, farewell: Callable[[], str]) -> None:
    """Sert jusqu'à SIGTERM ou SIGINT, puis écrit ``farewell()`` et s'arrête proprement."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        print(farewell(), flush=True)
        await runner.cleanup()


def run_server(server, host: str, port: int) -> int:
    """Fait tourner la coroutine ``server`` ; 1 avec un message en français si le port est pris."""
    import sys
    try:
        asyncio.run(server)
    except OSError as error:
        print(f"Erreur : impossible d'écouter sur {host}:{port} ({error.strerror or error}).",
              file=sys.stderr)
        return 1
    return 0
