"""The known-S attack's beam search beside its greedy search: seconds per photo, ratio, and what each identifies.

Both searches attack the same k-RTIO photos (held-out faces, key ``bytes(range(16))``, the default
overlay set), photo by photo and back to back, so that the per-photo time ratio is robust to the
machine's speed drifting during the run; the median of the ratios is reported.  Beside the cost, the
fraction of the k overlays identified, the fraction of photos with all k identified and the mean SSIM
of the attacked photo to the clean face, for each search.

Run: ``python benchmarks/bench_known_s.py [--faces olivetti|orl] [--photos N] [--blocks 4 8 16]
[--widths 2 4]``.  Expected: the beam of width W costs up to about W times greedy (W final sets are
refined); measured on 10 Olivetti faces: 2.1 / 3.6 times at 4-px blocks (W = 2 / 4), 1.4 / 1.9 at 8 px,
1.1 / 1.6 at 16 px.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

import imgprivacy as ip
from imgprivacy import krtio

KEY = bytes(range(16))


def _attack(y, prep, *, alpha, k, block, width):
    options = {} if width == 0 else {"search": "beam", "beam_width": width}
    start = time.perf_counter()
    out = ip.attacks.known_overlay_attack(y, prep, alpha=alpha, k=k, block=block, **options)
    return out, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", default="olivetti", help="face set (default olivetti)")
    parser.add_argument("--photos", type=int, default=10, help="held-out photos attacked per block (default 10)")
    parser.add_argument("--blocks", type=int, nargs="+", default=[4, 8, 16], help="block sides (default 4 8 16)")
    parser.add_argument("--widths", type=int, nargs="+", default=[2, 4], help="beam widths (default 2 4)")
    parser.add_argument("--alpha", type=float, default=0.45)
    parser.add_argument("--k", type=int, default=3)
    args = parser.parse_args()
    faces = ip.data.load_faces(args.faces)
    test = ip.models.split_per_subject(faces.labels, subjects=None).test[: args.photos]
    x, ids = faces.images[test], [f"{args.faces}-{i}" for i in test]
    S = ip.data.overlay_set()
    print(f"{args.faces} {x.shape[1]}x{x.shape[2]}, {len(x)} held-out photos, alpha {args.alpha}, k {args.k}, "
          f"m {len(S)}; 'found': overlays identified, 'all': photos with all {args.k}")
    print(f"{'block':>5} {'search':>8} {'found':>6} {'all':>5} {'SSIM':>13} {'s/photo':>8} {'ratio':>6}")
    for block in args.blocks:
        prep = krtio.prepare_overlays(S, x.shape[1:], block=block)
        y = krtio.perturb_batch(x, KEY, image_ids=ids, overlays=prep, k=args.k, alpha=args.alpha, block=block,
                                progress=False)
        b = prep.b
        truth = [set(krtio.plan(KEY, i, k=args.k, m=len(S), b=b).selection) for i in ids]
        widths = [0] + list(args.widths)
        seconds = {w: [] for w in widths}
        found = {w: [] for w in widths}
        ssim = {w: [] for w in widths}
        for j in range(len(x)):
            for w in widths:
                out, dt = _attack(y[j], prep, alpha=args.alpha, k=args.k, block=block, width=w)
                seconds[w].append(dt)
                found[w].append(len(set(out.selection.tolist()) & truth[j]))
                ssim[w].append(ip.metrics.ssim(x[j], out.recovered))
        ssim_protected = np.mean([ip.metrics.ssim(a, c) for a, c in zip(x, y)])
        for w in widths:
            ratio = statistics.median(s / g for s, g in zip(seconds[w], seconds[0]))
            name = "greedy" if w == 0 else f"beam {w}"
            print(f"{block:>5} {name:>8} {np.mean(found[w]) / args.k:>6.3f} {np.mean(np.equal(found[w], args.k)):>5.2f} "
                  f"{ssim_protected:>5.3f} -> {np.mean(ssim[w]):.3f} {statistics.median(seconds[w]):>8.2f} {ratio:>6.2f}",
                  flush=True)


if __name__ == "__main__":
    main()
