"""Surveillance et pilotage d'un crawl par JSON-RPC (paquet scrapy-jsonrpc, rendu compatible).

Organisation :

- ``compat`` : cales d'import, le temps de charger scrapy-jsonrpc 0.3.0 sous Scrapy 2 ;
- ``serialize`` : encodeur/décodeur du paquet corrigés (Python 3, Scrapy 2, secrets masqués) ;
- ``security`` : contrôle d'accès (boucle locale, jeton) et masquage des secrets ;
- ``views`` : liste blanche de ce qui est visible (stats, moteur, spider, réglages) ;
- ``resources`` : ressources Twisted du paquet, corrigées par héritage ;
- ``webservice`` : l'extension ``SecureWebService`` ;
- ``client`` : le client du paquet, importable sans préparation.

Importer ce paquet suffit pour que ``from scrapy_jsonrpc.jsonrpc import
jsonrpc_client_call`` fonctionne ensuite (voir le README, « Suivre et piloter un crawl en cours »).
"""

from crispscrape.jsonrpc.shims import load_scrapy_jsonrpc

load_scrapy_jsonrpc()
