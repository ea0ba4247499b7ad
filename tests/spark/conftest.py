from __future__ import annotations

import pytest

from tools.local_cluster import free_ports


@pytest.fixture
def closed_master() -> str:
    """A standalone master URL on a loopback port nothing listens on."""
    return f"spark://127.0.0.1:{free_ports(1)[0]}"
