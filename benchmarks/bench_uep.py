"""UEP: learning time, transfer to the provider's recognisers, image quality, recovery, median attack.

Measured in this one run, on this machine, on the Olivetti faces (64 x 64 grey):

1. **Learning** (the speed goal of issue 5: a UEP over 100 faces of the
   user's 10 subjects with the three local CNNs in <= 60 s on a 2-core CPU):
   ``imgprivacy.uep.learn`` with its defaults on the user's 100 faces and the
   cached local ensemble (``vgg_a``, ``vgg_b``, ``facescrub_thumb``); time,
   ``c``, ``||delta||``, fooling rate per model and the ``c`` search.
   ``--threads 1 2`` learns once per thread count, ``--cold`` once more
   without the warm start (every ``c`` from ``delta = 0``, as in Fig. 3).
2. **Transfer and quality per beta**: the fooling rate on the local models;
   the recognition rate of the provider CNN (cached, 40 subjects), Eigenfaces
   (fitted on the provider's training split, 40 x 7 faces) and dlib's
   pretrained ResNet (gallery: the same 280 faces; probes: the user's 30
   held-out faces, about 80 ms each; skipped without the ``recognizer``
   extra or with ``--no-dlib``) on the user's 100 faces, her 30 held-out
   faces and the 300 faces of the 30 people she does not know; mean SSIM of
   perturbed against clean faces; recovery after 8-bit PNG storage (PSNR of
   all 100 faces, smallest SSIM, largest pixel error against the proven
   bound ``exp(2 beta |delta|) / 510``).
3. **Median attack** (section 6.3, Fig. 15): ``imgprivacy.attacks.median_sweep``
   over lambda = 0.40 ... 0.56 and n = 5, 10, 35, all photos held, per
   target, on UEP faces at ``--median-betas`` (dlib on the 30 held-out faces
   at ``--dlib-median-betas``); the same attack on clean faces (what the
   attack's own distortion costs each recogniser); and on k-RTIO faces (key
   ``bytes(range(16))``, the default overlay set) for contrast.

The load average is printed at each stage: another process on a 2-core
machine slows learning (not the figures it finds).  ``--device auto`` uses
CUDA when present (``imgprivacy.models.pick_device``).

Run: ``python benchmarks/bench_uep.py [--threads 1 2] [--cold] [--no-dlib] [--save user.uep.npz]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import time

import numpy as np
import torch

import imgprivacy as ip
from imgprivacy import attacks, models, uep

GOAL_SECONDS = 60.0
BETAS = (0.0, 1.0, 2.0, 3.0, 4.0, 5.0)
LAMS = np.arange(0.40, 0.561, 0.02)
N_HELD = (5, 10, 35, 200)


def _load() -> str:
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:  # pragma: no cover
        return "load average unknown"


def _have_dlib() -> bool:
    return importlib.util.find_spec("dlib") is not None and importlib.util.find_spec("face_recognition_models") is not None


def _learn(ensemble, x, y, device, threads: list[int], cold: bool):
    print(f"\n1. learning a UEP over {len(x)} faces of {len(ensemble.split.subjects)} subjects, "
          f"models {', '.join(ensemble.names)}, device {device}")
    result = None
    runs = [(n, True) for n in threads] + ([(threads[0], False)] if cold else [])
    for n, warm in runs:
        print(f"   {n} torch thread(s), warm start {warm}, {_load()}")
        start = time.perf_counter()
        r = uep.learn(ensemble, x, y, device=device, threads=n if device.type == "cpu" else None, progress=False,
                      warm_start=warm)
        seconds = time.perf_counter() - start
        print(f"   {'c':>9} {'ok':>3} {'all fooled':>10} {'||delta||':>9} {'steps':>5} {'s':>6}")
        for t in r.history:
            print(f"   {t.c:>9.4g} {'yes' if t.succeeded else 'no':>3} {t.fooling_rate:>10.2f} {t.norm:>9.2f} {t.steps:>5} {t.seconds:>6.1f}")
        rates = ", ".join(f"{k} {v:.2f}" for k, v in r.fooling_rate.items())
        print(f"   -> {seconds:.1f} s ({r.steps} steps, {seconds / max(r.steps, 1) * 1000:.0f} ms/step), c = {r.c:.4g}, "
              f"||delta|| = {r.norm:.2f} (max |delta| {np.abs(r.delta).max():.2f}), converged {r.converged}; fooling: {rates}")
        print(f"   goal <= {GOAL_SECONDS:.0f} s: {'met' if seconds <= GOAL_SECONDS else 'MISSED'}; {_load()}")
        result = result or r
    return result


def _transfer(result, ens, sets, provider, eigen, dlib_rec):
    print(f"\n2. transfer, image quality and recovery per beta ({_load()})")
    x, y = sets["user"][0], sets["user_classes"]
    head = (f"{'beta':>4} {'local all':>9} | {'provider user/held/others':>25} | {'eigenfaces user/held/others':>27} | "
            f"{'dlib held':>9} | {'SSIM':>5} | {'rec. PSNR':>9} {'min SSIM':>8} {'max err':>7} {'bound ok':>8}")
    print(head)
    for beta in BETAS:
        p = {k: uep.apply(v[0], result.delta, beta=beta) for k, v in sets.items() if k != "user_classes"}
        local = uep.fooling_rate(ens, p["user"], y)["all"]
        prov = [provider.score(p[k], sets[k][1]) for k in ("user", "held", "others")]
        eig = [eigen.score(p[k], sets[k][1]) for k in ("user", "held", "others")]
        dl = f"{dlib_rec.score(p['held'], sets['held'][1]):>9.2f}" if dlib_rec is not None else f"{'-':>9}"
        ssim = float(np.mean([ip.metrics.ssim(a, b) for a, b in zip(x, p["user"])]))
        stored = np.stack([ip.data.storage_roundtrip(im) for im in p["user"]])
        back = uep.remove(stored, result.delta, beta=beta)
        err = np.abs(back - x)
        bound_ok = bool(np.all(err <= uep.recovery_bound(result.delta, beta=beta)[None] + 1e-6))
        rec_ssim = min(ip.metrics.ssim(a, b) for a, b in zip(x, back))
        print(f"{beta:>4.1f} {local:>9.2f} | {prov[0]:>7.2f} {prov[1]:>8.2f} {prov[2]:>8.2f} | {eig[0]:>8.2f} {eig[1]:>8.2f} "
              f"{eig[2]:>9.2f} | {dl} | {ssim:>5.3f} | {ip.metrics.psnr(x, back):>9.1f} {rec_ssim:>8.4f} {err.max():>7.3f} {str(bound_ok):>8}")


def _sweep_table(name: str, s) -> None:
    print(f"   {name}: no attack {s.baseline:.2f}; best {s.best()[2]:.2f} (n = {s.best()[0]}, lambda = {s.best()[1]:.2f})")
    print("   " + f"{'n':>5} " + " ".join(f"{lam:>5.2f}" for lam in s.lams) + " | best lambda per image")
    for i, n in enumerate(s.n_images):
        print("   " + f"{n:>5} " + " ".join(f"{v:>5.2f}" for v in s.recognition[i]) + f" | {s.best_per_image[i]:.2f}")


def _median(result, sets, provider, eigen, dlib_rec, betas, dlib_betas):
    print(f"\n3. median attack: recognition after x = lambda x' + (1 - lambda)(1 - median of n perturbed photos) ({_load()})")
    x, subjects = sets["user"]
    for beta in betas:
        p = uep.apply(x, result.delta, beta=beta)
        print(f" UEP, beta = {beta:g}, the user's {len(x)} faces")
        for name, target in (("eigenfaces", eigen), ("provider CNN", provider)):
            _sweep_table(name, attacks.median_sweep(target, p, subjects, lams=LAMS, n_images=N_HELD))
    if dlib_rec is not None:
        xh, sh = sets["held"]
        for beta in dlib_betas:
            start = time.perf_counter()
            s = attacks.median_sweep(dlib_rec, uep.apply(xh, result.delta, beta=beta), sh, lams=LAMS, n_images=(5, 10, 35))
            print(f" UEP, beta = {beta:g}, dlib ResNet on the {len(xh)} held-out faces ({time.perf_counter() - start:.0f} s)")
            _sweep_table("dlib", s)
    print(f" control: the attack on the user's {len(x)} clean faces (no UEP; median of all of them)")
    for name, target in (("eigenfaces", eigen), ("provider CNN", provider)):
        s = attacks.median_sweep(target, x, subjects, lams=LAMS, n_images=(len(x),))
        print(f"   {name:>12}: " + " ".join(f"{v:>5.2f}" for v in s.recognition[0]) + f" (clean, no attack: {s.baseline:.2f})")
    ids = [f"olivetti-{i}" for i in sets["user_idx"]]
    k = ip.krtio.perturb_batch(x, bytes(range(16)), image_ids=ids, overlays=ip.data.overlay_set(), progress=False)
    print(f" k-RTIO (k = 3, alpha = 0.45, block 8), the user's {len(x)} faces")
    for name, target in (("eigenfaces", eigen), ("provider CNN", provider)):
        _sweep_table(name, attacks.median_sweep(target, k, subjects, lams=LAMS, n_images=N_HELD))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu", help="cpu (default), cuda, mps or auto (imgprivacy.models.pick_device)")
    parser.add_argument("--threads", type=int, nargs="+", default=[models.DEFAULT_CPU_THREADS],
                        help="torch thread counts to learn with on the CPU (default: the library default, 1)")
    parser.add_argument("--cold", action="store_true", help="also learn once with warm_start=False (every c from 0)")
    parser.add_argument("--no-dlib", action="store_true", help="skip dlib's ResNet (about 2 minutes)")
    parser.add_argument("--median-betas", type=float, nargs="+", default=[2.0, 3.0, 5.0])
    parser.add_argument("--dlib-median-betas", type=float, nargs="+", default=[3.0])
    parser.add_argument("--save", metavar="PATH", help="save the learned UEP there (refuses to overwrite)")
    args = parser.parse_args(argv)

    device = models.pick_device(None if args.device == "auto" else args.device)
    print(f"imgprivacy {ip.__version__}, torch {torch.__version__}, {os.cpu_count()} CPU(s), device {device}, "
          f"CUDA available: {torch.cuda.is_available()}")
    print(f"start: {_load()}")
    faces = ip.data.load_faces("olivetti")
    ensemble = models.cached_ensemble(faces=faces)
    provider = ip.targets.ProviderCNN.cached(faces=faces)
    user_idx = np.flatnonzero(np.isin(faces.labels, ensemble.split.subjects))
    held_idx = ensemble.split.test
    other_idx = np.flatnonzero(~np.isin(faces.labels, ensemble.split.subjects))
    sets = {
        "user": (faces.images[user_idx], faces.labels[user_idx]),
        "held": (faces.images[held_idx], faces.labels[held_idx]),
        "others": (faces.images[other_idx], faces.labels[other_idx]),
        "user_classes": ensemble.split.class_index(faces.labels[user_idx]),
        "user_idx": user_idx,
    }
    result = _learn(ensemble, sets["user"][0], sets["user_classes"], device, args.threads, args.cold)
    if args.save:
        uep.save(args.save, result, metadata={"images": user_idx.tolist()})
        print(f"   saved to {args.save}")

    train = provider.split_.train
    eigen = ip.targets.Eigenfaces().fit(faces.images[train], faces.labels[train])
    dlib_rec = None
    if not args.no_dlib and _have_dlib():
        start = time.perf_counter()
        dlib_rec = ip.targets.DlibRecognizer().fit(faces.images[train], faces.labels[train])
        print(f"\n(dlib gallery: {len(train)} faces in {time.perf_counter() - start:.0f} s)")
    elif not args.no_dlib:
        print('\n(dlib skipped: install the extra with pip install -e ".[recognizer]")')
    sets_for_transfer = {k: v for k, v in sets.items() if k != "user_idx"}
    _transfer(result, ensemble, sets_for_transfer, provider, eigen, dlib_rec)
    _median(result, sets, provider, eigen, dlib_rec, args.median_betas, args.dlib_median_betas if dlib_rec else [])
    print(f"\nend: {_load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
