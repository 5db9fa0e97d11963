"""Lance le bac à sable : python -m crispsandbox --help."""

import sys

from .cli import main

sys.exit(main())
