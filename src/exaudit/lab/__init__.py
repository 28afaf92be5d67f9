"""The lab: emulated Exchange front ends and hostile servers on loopback addresses (tests, demo, benchmarks).

Public API (kept stable for the scanner's tests and benchmarks)::

    from exaudit.lab import ServerSpec, Lab, farm_specs
    with Lab([ServerSpec(build="15.1.2176.2", proxylogon="vulnerable"), ServerSpec(kind="tarpit")],
             first_address="127.0.20.1", port=8443) as lab:
        for ep in lab.endpoints:      # Endpoint(host, port, url, spec)
            ...
        lab.requests                  # recorded requests (thread-safe snapshot)
    farm_specs(2000, seed=1)          # a realistic, deterministic mix

What is emulated and from which reference: docs/lab.md.
"""

from __future__ import annotations

from exaudit.lab.serve_farm import farm_specs
from exaudit.lab.serve_spec import HOSTILE_KINDS, KINDS, ServerSpec, SpecError, product_of
from exaudit.lab.server import Endpoint, Lab, LabError, RecordedRequest, loopback_addresses

__all__ = [
    "HOSTILE_KINDS",
    "KINDS",
    "Endpoint",
    "Lab",
    "LabError",
    "RecordedRequest",
    "ServerSpec",
    "SpecError",
    "farm_specs",
    "loopback_addresses",
    "product_of",
]
