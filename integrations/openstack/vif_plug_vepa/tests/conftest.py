import os
import sys

import os_vif
import pytest
from oslo_config import cfg

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "testing"))

import vepa_testing  # noqa: E402

os_vif.initialize()


@pytest.fixture
def daemon():
    d = vepa_testing.Daemon()
    cfg.CONF.set_override("api", d.socket, group="os_vif_vepa")
    try:
        yield d
    finally:
        cfg.CONF.clear_override("api", group="os_vif_vepa")
        d.stop()
