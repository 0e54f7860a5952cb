"""The `mock` package kazoo's tests import, as the standard library's unittest.mock (the
same API since Python 3.3), so the suite runs without installing python3-mock."""

from unittest.mock import *  # noqa: F401,F403
from unittest.mock import _Call, _patch  # noqa: F401
