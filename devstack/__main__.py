"""``python -m devstack``: run the whole stack on this machine (see ``devstack.run``)."""

import sys

from devstack.run import main

sys.exit(main())
