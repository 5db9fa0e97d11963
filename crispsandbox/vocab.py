"""Réservoirs de mots et de textes du générateur (données immuables).

Les textes mêlent accents, écritures non latines, emoji, guillemets, barres
obliques inverses et retours à la ligne : l'exportateur doit tout conserver tel quel.
"""

FIRST_NAMES = (
    "Anne", "Bruno", "Chloé", "Denis", "Élodie", "François", "Gaëlle", "Hugo",
    "Inès", "Jérôme", "Karim", "Léa", "Mathis", "Noémie", "Océane", "Pierre",
    "Quentin", "Rémi", "Sofia", "Thibault", "Ugo", "Valérie", "Wassim", "Yasmine",
    "Zoë", "Björn", "Łukasz", "Søren", "Aiko", "Чэнь",
)

LAST_NAMES = (
    "Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand",
    "Leroy", "Moreau", "Simon", "Laurent", "Lefèvre", "Michel", "García", "Müller",
    "Nguyen", "Kowalski", "O'Connor", "Da Silva", "Benali", "Schäfer", "Øster",
)

DOMAINS = (
    "example.com", "exemple.fr", "mail.example.org", "Example.NET", "société.fr",
    "gmail.example", "outlook.example", "entreprise.example.co.uk",
)

# Adresses remarquables, toujours présentes dès que le jeu de données est assez
# grand : casse mélangée, étiquette « + », domaines et parties locales Unicode.
# (adresse, a un profil « people »)
SPECIAL_EMAILS = (
    ("José.Müller+crisp@exämple.fr", True),
    ("ANNE.Dupont@Example.com", True),
    ("sans.profil+test@exemple.fr", False),
    ("zoë.łukasz@société.fr", True),
    ("o'connor+vip@Mail.Example.org", True),
)

USER_TEXTS = (
    "Bonjour 👋 j'ai une question sur ma commande",
    "Ma facture n°{n} est introuvable, pouvez-vous m'aider ?",
    "Ça ne marche toujours pas… 😕",
    "Merci beaucoup 🙏 c'est réglé !",
    "Est-ce que l'offre « Pro » inclut l'export ?",
    "Il a dit \"ok\" puis\nplus rien depuis.",
    "Chemin du fichier : C:\\Users\\léa\\export.csv",
    "こんにちは、注文の状況を教えてください",
    "Привет! Где мой заказ?",
    "مرحبا، أحتاج إلى مساعدة",
    "Voici le lien : https://example.com/commande/{n}",
    "🎉🎉🎉",
    "Je reviens vers vous demain matin.",
    "Numéro de suivi : FR{n}XZ",
    "Le paiement a été refusé deux fois 💳❌",
)

OPERATOR_TEXTS = (
    "Bonjour {nick} ! Je regarde cela tout de suite.",
    "Pouvez-vous me donner votre numéro de commande ?",
    "C'est corrigé de notre côté ✅",
    "Je transmets à l'équipe technique 🛠️",
    "Voici la procédure :\n1. Ouvrir les réglages\n2. Cliquer sur « Exporter »",
    "Avec plaisir, bonne journée ☀️",
    "Nous avons remboursé {n} € sur votre carte.",
)

NOTE_TEXTS = (
    "Client fidèle, à traiter en priorité ⭐",
    "Vérifier le paiement avec la compta",
    "Doublon probable avec un autre ticket",
)

EVENT_NAMESPACES = (
    ("state:resolved", "Conversation résolue"),
    ("user:blocked", "Utilisateur bloqué"),
    ("reminder:scheduled", "Rappel programmé"),
    ("participant:added", "Participant ajouté"),
)

SUBJECTS = (
    "Problème de facturation", "Question avant achat", "Export des données",
    "Livraison en retard", "Accès au compte", "Demande de remboursement 💶",
)

SEGMENTS = ("client", "prospect", "vip", "support", "b2b", "newsletter")

CITIES = (
    ("FR", "Île-de-France", "Paris", 48.8566, 2.3522),
    ("FR", "Auvergne-Rhône-Alpes", "Lyon", 45.764, 4.8357),
    ("BE", "Bruxelles", "Bruxelles", 50.8503, 4.3517),
    ("DE", "Bayern", "München", 48.1351, 11.582),
    ("JP", "Tōkyō", "東京", 35.6762, 139.6503),
    ("CA", "Québec", "Montréal", 45.5017, -73.5673),
)

BROWSERS = (
    ("Chrome", "124.0.6367.91", "Blink", "Windows", "10"),
    ("Firefox", "126.0", "Gecko", "Ubuntu", "24.04"),
    ("Safari", "17.4.1", "WebKit", "Mac OS", "14.4"),
    ("Mobile Safari", "17.4", "WebKit", "iOS", "17.4"),
)

OPERATORS = (
    ("Marie (Support)", "https://image.crisp.chat/avatar/operator/marie.png"),
    ("Łukasz", "https://image.crisp.chat/avatar/operator/lukasz.png"),
    ("Sébastien 🤖", ""),
)

FILE_KINDS = (
    ("facture.pdf", "application/pdf"),
    ("capture d'écran.png", "image/png"),
    ("relevé_été.xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
)
