"""Le répertoire de données d'un export à LIRE (``scrapy status``, ``scrapy forget``) : dit en
français pourquoi il ne peut pas l'être, sans rien créer. Le pré-vol d'un export qui ÉCRIT est
dans storage/paths.py."""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from crispscrape.oserrors import os_reason


def data_dir_problem(data_dir: Path, website: str | None = None) -> str | None:
    """Pourquoi ``data_dir`` ne peut pas être lu comme un export (phrase française), ou None
    s'il est un répertoire. Ne crée rien ; ``website`` : -a website=ID (data_dir est alors
    {CRISP_DATA_DIR}/{ID})."""
    setting = f"{{CRISP_DATA_DIR}}/{website}" if website else "CRISP_DATA_DIR"
    try:
        mode = os.stat(data_dir).st_mode
    except FileNotFoundError:
        command = "scrapy crawl account" + (f" -a website={website}" if website else "")
        return (f"Répertoire de données introuvable : {data_dir} ({setting}) n'existe pas. "
                f"Aucun export n'y a été fait : lancez d'abord « {command} », ou donnez le "
                "bon CRISP_DATA_DIR. Rien n'a été créé.")
    except NotADirectoryError:
        blocker = next((parent for parent in Path(data_dir).parents
                        if parent.exists() and not parent.is_dir()), None)
        what = f"{blocker} est un fichier" if blocker else os_reason(NotADirectoryError(errno.ENOTDIR, ""))
        return (f"Le répertoire de données {data_dir} ({setting}) n'est pas un répertoire : "
                f"{what}. Donnez dans CRISP_DATA_DIR le répertoire de l'export. Rien n'a été "
                "modifié.")
    except OSError as exc:
        return (f"Répertoire de données {data_dir} ({setting}) inaccessible : "
                f"{os_reason(exc)}. Rien n'a été modifié.")
    if not stat.S_ISDIR(mode):
        return (f"Le répertoire de données {data_dir} ({setting}) n'est pas un répertoire : "
                "c'est un fichier. Donnez dans CRISP_DATA_DIR le répertoire de l'export. Rien "
                "n'a été modifié.")
    return None
