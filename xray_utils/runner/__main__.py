"""``python -m xray_utils.runner``: the same as ``xray-book``."""

import sys

from .cli import main

sys.exit(main())
