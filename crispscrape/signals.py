"""Les signaux propres à crispscrape, déclarés une fois (comme ceux de ``scrapy.signals``).

Un composant (pipeline, magasin) ne parle à l'araignée que par eux ou par les items : il
n'appelle aucune de ses méthodes. Envoyés par ``refuse_start`` / ``stop_export`` ci-dessous
(ou ``crawler.signals.send_catch_log(signal, …)``) ;
l'araignée de base (spiders/base.py) s'y abonne dans ``from_crawler``.

- ``start_refused(reason, message)`` : un composant n'a pas pu ouvrir ce qu'il possède
  (fichiers, verrou, index) ; le départ est refusé, aucun appel n'est fait.
- ``export_stopped(reason, message)`` : arrêt en cours de route (disque plein, état
  impossible à écrire) ; le message est la cause, dite une fois.
- ``conversation_closed(done)`` : une conversation refermée par le magasin des messages
  (``items.Finished``) ; l'araignée peut vérifier ce qu'elle en savait.
- ``conversation_removed(session_id, evidence)`` : Crisp a confirmé par un 404 sur la
  conversation elle-même qu'elle est supprimée (``evidence`` : l'appel) ; l'extension des
  suppressions la note dans le registre, puis l'efface à la fin du crawl (CRISP_REMOVED ; pipelines/removals.py).
- ``conversation_restored(session_id)`` : une conversation du registre des suppressions est
  de nouveau dans la liste de Crisp : la suppression ne tient plus (``restored``).
- ``messages_removed(session_id, keys, evidence)`` : une relecture complète (-a verify=1),
  une relecture du direct (dans la plage relue) ou un ``message:removed`` : ces messages du
  fichier sont supprimés chez Crisp, notés au registre.
- ``profile_removed(people_id, evidence)`` : un profil déjà exporté répond 404 à sa
  revérification : supprimé chez Crisp, noté au registre (son people_id, jamais l'e-mail).
- ``live_event(source, event, data)`` : un événement en direct reçu (RTM de Crisp ou web
  hook) ; le pipeline du journal l'écrit (fsync) tout de suite (pipelines/live.py).
- ``live_journaled(seq, event, data)`` : l'événement est dans le journal (numéro ``seq``) ;
  l'araignée ``live`` l'applique (spiders/live_apply.py).
- ``live_applied(seq, unsettled, profiles)`` : l'araignée a appliqué l'événement ``seq`` ;
  les conversations ``unsettled`` (session_id -> plus ancien horodatage écrit) et les
  profils ``profiles`` (people_id -> e-mail) attendent leur relecture REST. Le pipeline du
  journal note le tout d'une écriture.
- ``live_settled(started, session_id | people_id)`` : relu par REST depuis ``started``.
- ``live_uncovered(since)`` : une coupure est connue (départ, perte de la connexion) ; le
  flux n'est pas réputé complet depuis ``since`` (heure ; 0 : inconnu) ; ``None`` : une
  réconciliation a tout couvert (spiders/live_gap.py). Le pipeline du journal garde le plus
  ancien dans son état : un arrêt brutal ne raccourcit pas la fenêtre de la réconciliation
  suivante.
- ``removals_due()`` : le direct est calme (aucune relecture en cours) et des suppressions
  attendent : l'extension des suppressions efface tout de suite ce que le registre désigne.
- ``traces_erased(conversations, messages, profiles)`` : elle vient de l'effacer des fichiers ; chaque
  magasin l'oublie aussi en mémoire, pour qu'aucune écriture ne le ramène.
- ``listing_advanced(position, seen, census_done)`` : l'araignée des conversations a fait
  avancer son parcours de la liste (``paging.conversations.ListingPosition``, une copie ;
  ``seen`` : conversations vues par un recensement ; ``census_done`` : il est fini) ; le
  pipeline des conversations l'enregistre, ou arrête l'export (export_stopped) s'il ne le
  peut pas.
"""

start_refused = object()
export_stopped = object()
conversation_closed = object()
listing_advanced = object()
conversation_removed = object()
conversation_restored = object()
messages_removed = object()
profile_removed = object()
live_event = object()
live_journaled = object()
live_applied = object()
live_settled = object()
live_uncovered = object()
removals_due = object()
traces_erased = object()


def refuse_start(crawler, reason: str, message: str) -> None:
    """Le départ est refusé (start_refused) : aucun appel ne sera fait."""
    crawler.signals.send_catch_log(start_refused, reason=reason, message=message)


def stop_export(crawler, reason: str, message: str) -> None:
    """Arrêt en cours de route (export_stopped), la cause dite une fois."""
    crawler.signals.send_catch_log(export_stopped, reason=reason, message=message)
