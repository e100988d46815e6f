"""`python -m triton_dsl` is the `tritonc` command."""

import sys

from .cli import main

sys.exit(main())
