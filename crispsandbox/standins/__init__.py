"""Doublures locales des deux autres systèmes de discussion (issue 11).

- ninja : la discussion client Django + Django Ninja (base http://127.0.0.1:PORT/api) ;
- wanzo : la discussion du portefeuille Wanzo (base http://127.0.0.1:PORT/portfolio/api/v1).

Même machinerie que le bac à sable Crisp (couche de pannes layer.py, compteurs stats.py,
routes /_admin communes adminkit.py, lanceur process.py) ; seuls les données et les routes
changent. Lancement : python -m crispsandbox --system ninja|wanzo (voir docs/sandbox.md).
"""
