"""A deterministic farm of emulated servers: a realistic mix of products, builds, mitigations and misbehaving hosts.

The builds are real release builds (Microsoft's build-number page, as collected in the project's
exchange_builds.csv), spread over 2010 SP3 to Exchange SE so that every fingerprinting case occurs: CU-level OWA
paths whose SU is unknown, March 2021 SUs on old CUs, X-OWA-Version before and after July 2021, and EEMS only where
the service exists (2016 CU22+, 2019 CU11+; microsoft-css-exchange.md §3.5).
"""

from __future__ import annotations

import random

from exaudit.lab.serve_spec import HOSTILE_KINDS, ServerSpec

# (build, weight): newer builds weigh more, as in real estates; every product stays represented.
FARM_BUILDS: tuple[tuple[str, int], ...] = (
    ("14.3.123.4", 1), ("14.3.468.0", 1), ("14.3.513.0", 2),
    ("15.0.620.29", 1), ("15.0.913.22", 1), ("15.0.1130.7", 1), ("15.0.1263.5", 1), ("15.0.1367.3", 1),
    ("15.0.1473.4", 1), ("15.0.1497.2", 2), ("15.0.1497.12", 2), ("15.0.1497.26", 2), ("15.0.1497.42", 2),
    ("15.1.225.42", 1), ("15.1.845.34", 1), ("15.1.1415.10", 1), ("15.1.1531.10", 1), ("15.1.1591.17", 1),
    ("15.1.1713.8", 1), ("15.1.1779.5", 1), ("15.1.1847.7", 1), ("15.1.1913.10", 1), ("15.1.2044.4", 1),
    ("15.1.2044.13", 1), ("15.1.2106.2", 2), ("15.1.2106.8", 2), ("15.1.2176.2", 3), ("15.1.2176.12", 2),
    ("15.1.2242.4", 2), ("15.1.2242.12", 2), ("15.1.2308.21", 2), ("15.1.2375.7", 2), ("15.1.2375.18", 2),
    ("15.1.2375.37", 2), ("15.1.2507.16", 3), ("15.1.2507.31", 3), ("15.1.2507.39", 3), ("15.1.2507.58", 3),
    ("15.1.2507.69", 3),
    ("15.2.221.18", 1), ("15.2.330.10", 1), ("15.2.397.9", 1), ("15.2.464.14", 1), ("15.2.529.13", 1),
    ("15.2.659.6", 1), ("15.2.721.2", 2), ("15.2.721.13", 2), ("15.2.792.10", 3), ("15.2.792.15", 2),
    ("15.2.858.5", 2), ("15.2.922.7", 2), ("15.2.922.27", 2), ("15.2.986.5", 2), ("15.2.986.22", 2),
    ("15.2.986.37", 2), ("15.2.1118.12", 2), ("15.2.1118.26", 2), ("15.2.1118.40", 3), ("15.2.1258.27", 3),
    ("15.2.1258.39", 3), ("15.2.1544.14", 3), ("15.2.1544.36", 4), ("15.2.1544.44", 4), ("15.2.1748.24", 3),
    ("15.2.1748.42", 4), ("15.2.1748.51", 4),
    ("15.2.2562.27", 3), ("15.2.2562.43", 4), ("15.2.2562.56", 4),
)  # fmt: skip

# Shares of the farm (the rest is Exchange).
PLAIN_SHARE = 0.08
HOSTILE_SHARE = 0.04
# ProxyNotShell was fixed in the November 2022 SU (microsoft-css-exchange.md §3.5); EEMS exists from these CUs on.
_EEMS_FROM = {(15, 1): 2375, (15, 2): 986}
_NOV22_SU = {(15, 1, 2375): 37, (15, 1, 2507): 16, (15, 2, 986): 36, (15, 2, 1118): 20}


def _eems_possible(spec: ServerSpec) -> bool:
    major, minor, cu, rev = spec.version
    first_cu = _EEMS_FROM.get((major, minor))
    if first_cu is None or cu < first_cu:
        return False
    fixed_rev = _NOV22_SU.get((major, minor, cu))
    return fixed_rev is not None and rev < fixed_rev  # only builds that needed the ProxyNotShell mitigation


def _exchange_spec(rng: random.Random) -> ServerSpec:
    builds, weights = zip(*FARM_BUILDS, strict=True)
    spec = ServerSpec(build=rng.choices(builds, weights)[0], exporttool=rng.random() < 0.9, tls=rng.random() < 0.97)
    if spec.proxylogon == "vulnerable" and rng.random() < 0.3:
        spec = spec.replace(eomt=True)  # EOMT was run on unpatched servers only
    if _eems_possible(spec) and rng.random() < 0.6:
        spec = spec.replace(eems=True)
    if spec.owa_version_header and rng.random() < 0.1:
        spec = spec.replace(owa_version_header=False)  # stripped by a reverse proxy (remote-fingerprinting.md §2)
    return spec


def farm_specs(count: int, seed: int = 1) -> list[ServerSpec]:
    """``count`` server specs, the same for the same seed: ~88 % Exchange, ~8 % plain sites, ~4 % hostile hosts."""
    if count < 0:
        raise ValueError("count must be >= 0")
    rng = random.Random(seed)
    specs: list[ServerSpec] = []
    for _ in range(count):
        draw = rng.random()
        if draw < HOSTILE_SHARE:
            specs.append(ServerSpec(kind=rng.choice(HOSTILE_KINDS), tls=rng.random() < 0.8, drip=2.0))
        elif draw < HOSTILE_SHARE + PLAIN_SHARE:
            specs.append(ServerSpec(kind="plain", plain_server=rng.choice(("iis", "iis", "nginx")), tls=rng.random() < 0.9))
        else:
            specs.append(_exchange_spec(rng))
    return specs
