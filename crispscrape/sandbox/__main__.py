"""Lance le bac à sable : python -m crispscrape.sandbox --help."""

import sys

from .cli import main

sys.exit(main())
