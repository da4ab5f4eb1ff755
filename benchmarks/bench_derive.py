"""Format 2's key-derived overlay set: seconds to derive it for one key, beside the bundled pool's hashing.

``krtio.derived_overlays(key)`` runs once per ``protect``/``recover`` command: the PRF draws (one AES call),
the flatness test of each crop, the 30 overlays and their fingerprint.  The fingerprint alone
(``data.overlay_fingerprint`` of the derived images, measured side by side in this run) is the floor:
the set has to be hashed for the tag anyway.

Run: ``python benchmarks/bench_derive.py [--keys N]``.
Goal (issue 12): well under a second per key (median below 0.5 s).
"""

from __future__ import annotations

import argparse
import secrets
import statistics
import time

import imgprivacy as ip

GOAL_SECONDS = 0.5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10, help="keys derived (default 10)")
    args = parser.parse_args()
    ip.data.overlay_set()  # the bundled pool, built and cached once per process (not part of a derivation)
    derive, floor = [], []
    for _ in range(args.keys):
        key = secrets.token_bytes(16)
        start = time.perf_counter()
        S = ip.krtio.derived_overlays(key)
        derive.append(time.perf_counter() - start)
        start = time.perf_counter()
        ip.data.overlay_fingerprint(S)
        floor.append(time.perf_counter() - start)
    d, f = statistics.median(derive), statistics.median(floor)
    print(f"derived_overlays: median {d:.3f} s per key over {args.keys} keys (max {max(derive):.3f} s); "
          f"hashing the set alone {f:.3f} s; ratio {d / f:.1f}")
    print(f"goal: median below {GOAL_SECONDS} s -> {'met' if d < GOAL_SECONDS else 'NOT met'}")


if __name__ == "__main__":
    main()
