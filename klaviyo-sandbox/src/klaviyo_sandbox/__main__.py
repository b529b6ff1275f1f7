"""``python -m klaviyo_sandbox``: the ``klaviyo-sandbox`` command."""

import sys

from .cli import main

sys.exit(main())
