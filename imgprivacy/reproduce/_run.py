"""Reproduce the paper's evaluation in one run: ``imgprivacy reproduce [--fast] --out DIR``.

:func:`run` regenerates the counterparts of the paper's Fig. 8-13, 16 and 17
(plus the known-S block attack, which the paper does not try) on a face
set at its own resolution (``faces=``: the Olivetti faces by default, ORL,
LFW), against every target of :mod:`imgprivacy.targets`, and writes into a
new folder:

* ``figNN_*.png``: the figures;
* ``results.json``: every number (settings, timings, the tidy tables, each
  claim with the paper's value and ours);
* ``krtio_grid.csv``, ``filters.csv``, ``uep.csv``: the tidy tables of
  :func:`imgprivacy.evaluate.sweep`; ``known_s.csv``: that of
  :func:`imgprivacy.evaluate.known_overlay_sweep`;
* ``frontier.png``, ``frontier.csv``, ``best_settings.csv``: the
  privacy-utility frontier of both schemes
  (:func:`imgprivacy.evaluate.frontier`, :func:`imgprivacy.evaluate.best_settings`);
* ``report.md``: the face set and its resolution, each of our results
  beside the paper's, with the paper's numbers typed in from its text
  (:data:`PAPER`), a verdict, and a sentence saying why they differ where
  they do; the frontier's plain answer ("the best setting with SSIM >= 0.6
  lowers dlib to X"); and the verdicts of earlier runs beside ours
  (``compare=``, e.g. the run on another face set).

The verdicts are computed from the measurements by fixed rules written in
:data:`PAPER` before any run; nothing is tuned until a claim holds.

Our setting differs from the paper's on purpose, and the report says so:
the paper attacks online services (Clarifai, Google Vision) and DeepFace
with about 1000 FaceScrub colour photos of celebrities; we attack our own
provider CNN, a robust CNN, eigenfaces, dlib's pretrained ResNet and three
detectors with the 40 people of Olivetti (64x64 grey crops) or ORL (92x112).
"""


from __future__ import annotations

import json
import os
import platform
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from .. import __version__, attacks, data
from ..evaluate import EVALUATION_KEY as EVAL_KEY
from ._claims import paper_claims
from ._faces import FACE_SETS, describe, ensemble_for, provider_for, robust_for, scaled_blocks, uep_matches
from ._faces import load as load_face_set
from ._paper import PAPER
from ._report import Writer, json_safe, markdown, records

__all__ = ["FRONTIER_TARGETS", "MIN_SSIM", "PAPER", "Report", "Settings", "check_output_dir", "read_earlier", "run"]

#: The recognisers of the privacy-utility frontier (frontier.png, frontier.csv), those of them the run has.
FRONTIER_TARGETS = ("dlib ResNet", "provider CNN", "eigenfaces")
#: The SSIM thresholds of the report's plain answer ("the best setting with SSIM >= 0.6 lowers dlib to X").
MIN_SSIM = (0.5, 0.6, 0.7)


@dataclass(frozen=True)
class Settings:
    """What one reproduction run evaluates.  :meth:`full` is the default; :meth:`quick` is ``--fast``.

    Attributes
    ----------
    fast : bool
    alphas, blocks, ks : tuple
        The k-RTIO grid (the paper: alpha 0.3-0.7, blocks 4-64 px, k = 3 and 8).
    betas : tuple of float
        UEP strengths.
    faces_per_person : int
        Held-out faces per person evaluated (Olivetti holds out 3 of each of the 40 people).
    dlib_people : int
        People enrolled in the dlib recogniser's gallery (7 photos each).
    dlib_probes : int
        Faces the dlib recogniser identifies in each cell (about 80 ms per face on a CPU).
    filter_strengths : dict
        Strengths of each filter of :data:`imgprivacy.attacks.FILTERS` (0, the control, is the unfiltered row).
    known_s_blocks : tuple
        Block sizes of the known-S block attack (alpha 0.45, k = 3).
    eval_people : int or None
        Evaluate the held-out faces of the first ``eval_people`` people only (None: all of them).
    known_s_faces : int or None
        Attack only the first ``known_s_faces`` evaluated faces with the known-S attack (None: all).
    uep_c_range, uep_search_steps :
        The UEP's c search (:func:`imgprivacy.uep.learn`).
    reuse_uep : bool
        Use the UEP shipped in ``data/checkpoints`` (:func:`imgprivacy.uep.cached`) when it was learned by
        this same search, on the same faces and models (the search is deterministic), instead of learning it
        again: two minutes and 200 MB of memory less.  False (or no such file) learns it here.
    retrain_robust : bool
        Retrain the robust CNN (else load the shipped one, trained by the same code).
    example_ks : tuple
        Rows of the Fig. 10 example grid.
    """

    fast: bool
    alphas: tuple = (0.3, 0.4, 0.45, 0.5, 0.6, 0.7)
    blocks: tuple = (4, 8, 16, 32, 64)
    ks: tuple = (3, 8)
    betas: tuple = (0.0, 1.0, 2.0, 3.0, 5.0)
    faces_per_person: int = 3
    dlib_people: int = 40
    dlib_probes: int = 60
    filter_strengths: dict = field(default_factory=lambda: {n: tuple(s.strengths[1:]) for n, s in attacks.FILTERS.items()})
    known_s_blocks: tuple = (4, 8, 16)
    eval_people: int | None = None
    known_s_faces: int | None = None
    uep_c_range: tuple = (1e-3, 10.0)
    uep_search_steps: int = 6
    reuse_uep: bool = True
    retrain_robust: bool = True
    example_ks: tuple = (1, 2, 3, 4, 5, 8)

    @classmethod
    def full(cls) -> Settings:
        """The full run: the paper's grid on all 120 held-out faces (about 16 minutes on a 2-core CPU)."""
        return cls(fast=False)

    @classmethod
    def quick(cls, faces: str = "olivetti") -> Settings:
        """``--fast``: a coarse grid on 40 faces, the shipped robust CNN and UEP (CI, about 2 minutes).

        For a face set larger than Olivetti's 64 x 64 (ORL, LFW) the fast run is lighter still, so that it
        costs about what Olivetti's does: alpha in {0.3, 0.45, 0.6}, the held-out faces of the first 20
        people, the known-S attack on 10 of them.
        """
        quick = cls(
            fast=True, alphas=(0.3, 0.4, 0.45, 0.6), blocks=(4, 8, 32), ks=(3, 8), betas=(0.0, 2.0, 3.0),
            faces_per_person=1, dlib_people=10, dlib_probes=10,
            filter_strengths={n: (s.strengths[len(s.strengths) // 2],) for n, s in attacks.FILTERS.items()},
            known_s_blocks=(8,), retrain_robust=False,
            example_ks=(1, 3, 8),
        )
        if faces == "olivetti":
            return quick
        return replace(quick, alphas=(0.3, 0.45, 0.6), eval_people=20, known_s_faces=10)


@dataclass(frozen=True)
class Report:
    """What :func:`run` wrote and found.

    Attributes
    ----------
    out : Path
        The output folder.
    files : tuple of str
        Names of the files written into it.
    claims : list of dict
        One entry per claim of :data:`PAPER`: ids, the paper's words and numbers, ours, and the verdict.
    seconds : dict
        Wall-clock time of each stage and in total.
    """

    out: Path
    files: tuple
    claims: list
    seconds: dict

    def verdicts(self) -> dict[str, str]:
        """``{claim id: verdict}`` ("agrees", "partly", "differs" or "not measured")."""
        return {c["id"]: c["verdict"] for c in self.claims}


# ----------------------------------------------------------------------------------------------- set-up
def check_output_dir(path, *, name: str = "out") -> Path:
    """Check that ``path`` names a new or empty folder for a run's results, and return it as a Path.

    Nothing is created: :func:`run` (and ``imgprivacy reproduce``) call this
    before any work and again right before writing, so that a run never
    overwrites or mixes with files that are already there.

    Parameters
    ----------
    path : str or os.PathLike
        The folder; it may not exist yet.
    name : str, default "out"
        The parameter's name in error messages.

    Returns
    -------
    pathlib.Path

    Raises
    ------
    TypeError
        If ``path`` is not a str or os.PathLike.
    ValueError
        If ``path`` is a file or a folder that is not empty.

    Examples
    --------
    >>> check_output_dir("a-folder-that-does-not-exist").name
    'a-folder-that-does-not-exist'
    >>> check_output_dir("README.md")
    Traceback (most recent call last):
    ...
    ValueError: out must be a folder, got the file 'README.md'; choose a new folder
    """
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"{name} must be a path to a new or empty folder, got {type(path).__name__}")
    out = Path(path)
    if out.exists() and not out.is_dir():
        raise ValueError(f"{name} must be a folder, got the file {str(out)!r}; choose a new folder")
    if out.is_dir() and any(out.iterdir()):
        raise ValueError(f"{name} folder {str(out)!r} is not empty; choose a new folder (nothing is overwritten)")
    return out


def _targets(faces, provider, settings: Settings, device, progress: bool, notes: list[str]):
    """The provider's targets, the evaluation faces (held-out, gallery people first) and dlib's limit."""
    from ..targets import Eigenfaces

    train, test = provider.split_.train, provider.split_.test
    labels = faces.labels
    people = np.unique(labels[test])[: settings.eval_people]
    test = np.concatenate([test[labels[test] == s][: settings.faces_per_person] for s in people])
    recognisers: dict[str, Any] = {
        "eigenfaces": Eigenfaces().fit(faces.images[train], labels[train]),
        "provider CNN": provider,
    }
    recognisers["robust CNN"] = robust_for(faces, train, labels, settings.retrain_robust, device, progress, notes)
    detectors: dict[str, Any] = {}
    limits: dict[str, int] = {}
    try:
        from ..targets import DlibHOGDetector, DlibRecognizer, HaarDetector, LBPDetector

        people = np.unique(labels)[: settings.dlib_people]
        gallery = train[np.isin(labels[train], people)]
        recognisers["dlib ResNet"] = DlibRecognizer().fit(faces.images[gallery], labels[gallery])
        enrolled = np.isin(labels[test], people)
        test = np.concatenate([test[enrolled], test[~enrolled]])  # dlib's probes first: people in its gallery
        limits["dlib ResNet"] = int(min(settings.dlib_probes, enrolled.sum()))
        detectors = {"dlib HOG": DlibHOGDetector(), "LBP cascade": LBPDetector(), "Haar cascade": HaarDetector()}
    except ImportError as exc:
        notes.append(f"dlib and OpenCV targets skipped ({exc}); install them with pip install 'imgprivacy[recognizer]'.")
    return {**recognisers, **detectors}, test, limits


def _learn_uep(faces, settings: Settings, device, progress: bool, notes: list[str]):
    """The user's UEP: the shipped one when it was learned by this very search (``settings.reuse_uep``), else learned."""
    from .. import models, uep

    ensemble = ensemble_for(faces, device, progress, notes)
    user = np.flatnonzero(np.isin(faces.labels, ensemble.split.subjects))
    try:
        shipped = uep.cached(faces.dataset) if settings.reuse_uep and faces.dataset in models.SHIPPED_FACES else None
    except FileNotFoundError:
        shipped = None
    if shipped is not None:
        if uep_matches(shipped, faces, ensemble, user, settings):
            notes.append("The UEP is the one shipped in data/checkpoints (imgprivacy.uep.cached), learned by this same "
                         "search on the same faces and models; reuse_uep=False learns it again.")
            return shipped
    threads = 2 if getattr(device, "type", str(device)) == "cpu" else None
    return uep.learn(ensemble, faces.images[user], ensemble.split.class_index(faces.labels[user]),
                     c_range=settings.uep_c_range, search_steps=settings.uep_search_steps, batch_size=50,
                     device=device, threads=threads, progress=progress)  # batch_size as notebook 04 (memory)


# ----------------------------------------------------------------------------------------------- known-S attack
def _known_s(x, y, targets, limits, settings: Settings, overlays, progress: bool):
    """The known-S attack at alpha 0.45, k = 3 and each block of the settings: the tidy table, one wide row per
    block for the report, and (block, protected, attacked) examples for the figure."""
    from ..evaluate import known_overlay_sweep

    recognisers = {name: t for name, t in targets.items() if hasattr(t, "predict")}
    x, y = x[: settings.known_s_faces], y[: settings.known_s_faces]
    table, shown = known_overlay_sweep(
        x, y, recognisers, settings=[(0.45, 3, b) for b in settings.known_s_blocks], key=EVAL_KEY, overlays=overlays,
        limits={k: min(v, len(x)) for k, v in limits.items() if k in recognisers}, progress=progress,
        return_images=6)  # the figure's 6
    rows = []
    for block, part in table.groupby("block", sort=False):
        first = part.iloc[0]
        row = {"block": int(block), "overlays found": first.overlays_found, "all 3 found": first.all_found,
               "ssim_perturbed": first.ssim_protected, "ssim_attacked": first.ssim_attacked}
        for r in part.itertuples():
            row[f"{r.target} perturbed"], row[f"{r.target} attacked"] = r.rate_protected, r.rate_attacked
        rows.append(row)
    block = 8 if 8 in settings.known_s_blocks else settings.known_s_blocks[0]
    protected, attacked = shown[0.45, 3, block]
    return table, rows, (block, protected[:6], attacked[:6])


# ----------------------------------------------------------------------------------------------- run
def read_earlier(folders) -> list[dict]:
    """The ``results.json`` of earlier runs (``compare``), each checked to be one, with its folder."""
    if folders is None:
        return []
    if isinstance(folders, (str, os.PathLike)):
        folders = [folders]
    out = []
    for folder in folders:
        if not isinstance(folder, (str, os.PathLike)):
            raise TypeError(f"compare must be a path or a list of paths to earlier runs' folders, got {type(folder).__name__}")
        path = Path(folder) / "results.json"
        try:
            found = json.loads(path.read_text(encoding="utf-8"))
            claims = {c["id"]: c["verdict"] for c in found["claims"]}
        except (OSError, ValueError, KeyError, TypeError) as err:
            raise ValueError(f"compare: {str(folder)!r} is not the folder of an earlier imgprivacy reproduce run "
                             f"(its results.json cannot be read: {type(err).__name__}); pass the --out folder of one") from None
        faces = found.get("faces") or {"dataset": "olivetti", "name": "Olivetti", "size": "64×64"}  # runs before --faces
        out.append({"folder": str(folder), "faces": faces, "verdicts": claims, "fast": found["settings"].get("fast"),
                    "best": found.get("frontier", {}).get("best", [])})
    return out


def run(out, *, fast: bool = False, progress: bool = True, device=None, settings: Settings | None = None,
        faces: str = "olivetti", compare=None) -> Report:
    """Regenerate the paper's figures and numbers into the new folder ``out``.

    Parameters
    ----------
    out : str or path
        A folder that does not exist yet or is empty; created once every
        input is checked.  Nothing is ever overwritten.
    fast : bool, default False
        :meth:`Settings.quick` (CI; about 2 minutes on a 2-core CPU) instead
        of :meth:`Settings.full` (about 16 minutes).
    progress : bool, default True
        tqdm progress bars.
    device : torch.device or str, optional
        Where the UEP is learned and the robust CNN trained; default
        :func:`imgprivacy.models.pick_device` (a GPU when there is one).
    settings : Settings, optional
        What to evaluate, instead of ``fast``'s choice; e.g. the full run
        with the shipped robust CNN, ``dataclasses.replace(Settings.full(),
        retrain_robust=False)``, as notebook 07 does to stay within a
        Binder kernel's memory (retraining imports torch's optimisers, about
        110 MB).
    faces : {"olivetti", "orl", "lfw"}, default "olivetti"
        The face set, at its own resolution (:func:`imgprivacy.data.load_faces`):
        Olivetti 64 x 64, ORL 92 x 112, LFW 96 x 96 colour.  Olivetti and ORL
        use the shipped models (and UEP); for LFW every model is trained
        here.  Blocks of 16 px or less keep their size; larger ones (32, 64
        on Olivetti: half the face, all of it) scale with the face's short
        side, and the report states the blocks used.
    compare : path or list of paths, optional
        Folders of earlier runs (e.g. on another face set): the report
        puts their verdicts and frontier answers beside this run's.

    Returns
    -------
    Report

    Raises
    ------
    ValueError
        If ``out`` is a file or a non-empty folder.
    FileNotFoundError
        If the Olivetti faces cannot be found (see ``imgprivacy.data.load_faces``).

    Examples
    --------
    >>> run("README.md")
    Traceback (most recent call last):
    ...
    ValueError: out must be a folder, got the file 'README.md'; choose a new folder
    """
    out = check_output_dir(out)
    if not isinstance(fast, bool):
        raise TypeError(f"fast must be True or False, got {fast!r}")
    if settings is not None and not isinstance(settings, Settings):
        raise TypeError(f"settings must be an imgprivacy.reproduce.Settings or None, got {type(settings).__name__}")
    if settings is not None and fast:
        raise TypeError("pass fast=True or settings, not both (settings.fast says which run it is)")
    if not isinstance(faces, str) or faces not in FACE_SETS:
        raise ValueError(f"faces must be one of {', '.join(map(repr, FACE_SETS))}, got {faces!r}")
    earlier = read_earlier(compare)
    import matplotlib

    import pandas as pd

    from .. import evaluate, models, plotting

    settings = settings if settings is not None else Settings.quick(faces) if fast else Settings.full()
    seconds: dict[str, float] = {}
    notes: list[str] = []
    t0 = time.perf_counter()

    def lap(stage: str, start: float) -> float:
        now = time.perf_counter()
        seconds[stage] = now - start
        return now

    face_set = load_face_set(faces)
    info = describe(face_set)
    settings = replace(settings, blocks=scaled_blocks(settings.blocks, min(info["width"], info["height"])))
    faces = face_set
    device = models.pick_device(device)
    overlays = data.overlay_set()
    out.mkdir(parents=True, exist_ok=True)
    check_output_dir(out)  # still empty: nothing of anyone else's can be overwritten
    writer = Writer(out)
    t = time.perf_counter()
    provider = provider_for(faces, device, progress, notes)
    targets, test, limits = _targets(faces, provider, settings, device, progress, notes)
    x, y = faces.images[test], faces.labels[test]
    info["held_out"] = int(len(x))
    t = lap("targets", t)

    with matplotlib.rc_context({"figure.max_open_warning": 0}):
        grid = evaluate.sweep(x, y, targets, alphas=settings.alphas, blocks=settings.blocks, ks=settings.ks,
                              key=EVAL_KEY, overlays=overlays, limits=limits, progress=progress)
        t = lap("k-RTIO grid", t)
        filters = [("none", 0)] + [(n, s) for n, ss in settings.filter_strengths.items() for s in ss]
        filt = evaluate.sweep(x, y, targets, alphas=(0.45,), blocks=(8,), ks=(3,), filters=filters, key=EVAL_KEY,
                              overlays=overlays, limits=limits, progress=progress)
        t = lap("filters", t)
        result = _learn_uep(faces, settings, device, progress, notes)
        uep_table = evaluate.sweep(x, y, targets, betas=settings.betas, delta=result, limits=limits, progress=progress)
        t = lap("UEP", t)
        ssim_uep = evaluate.uep_recovery_ssim(x, result, beta=3.0, progress=progress)
        ssim_krtio = evaluate.krtio_recovery_ssim(x, EVAL_KEY, overlays=overlays, alpha=0.45, k=3, block=8,
                                                  progress=progress)
        recovery = {name: {"mean": float(v.mean()), "sd": float(v.std(ddof=1)), "min": float(v.min()), "n": int(v.size)}
                    for name, v in (("uep", ssim_uep), ("krtio", ssim_krtio))}
        t = lap("recovery", t)
        known, known_rows, examples = _known_s(x, y, targets, limits, settings, overlays, progress)
        t = lap("known-S attack", t)
        front = evaluate.frontier(grid, uep_table, targets=[n for n in FRONTIER_TARGETS if n in targets])
        best = {n: evaluate.best_settings(front, target=n, min_ssim=MIN_SSIM) for n in dict.fromkeys(front.target)}
        writer.figure("frontier.png", plotting.plot_frontier(front, min_ssim=MIN_SSIM))
        t = lap("frontier", t)

        figures = {
            "fig09": ["fig09_alpha_block.png"], "fig10": ["fig10_k_block.png"],
            "fig11_low": ["fig11_detection_k3.png", "fig11_detection_k8.png"], "fig12_recognition": ["fig12_recognition_k3.png"],
            "fig13": ["fig13_recovery_ssim.png"], "fig16_robust": ["fig16_robust_cnn.png"], "fig17": ["fig17_filters.png"],
            "uep_beta3": ["fig08_uep_beta.png"],
        }
        face = x[0]
        writer.figure("fig09_alpha_block.png", plotting.plot_krtio_examples(
            face, EVAL_KEY, overlays=overlays, alphas=settings.alphas, blocks=settings.blocks, k=3))
        writer.figure("fig10_k_block.png", plotting.plot_krtio_examples(
            face, EVAL_KEY, overlays=overlays, ks=settings.example_ks, blocks=settings.blocks, alpha=0.6))
        for k in settings.ks:
            writer.figure(f"fig11_detection_k{k}.png", plotting.plot_rates(grid, task="detection", k=k))
        writer.figure("fig12_recognition_k3.png", plotting.plot_rates(grid, task="recognition", k=3))
        writer.figure("fig13_recovery_ssim.png", plotting.plot_ssim_histograms(
            {"UEP (β = 3)": ssim_uep, "k-RTIO (k = 3, block 8, α = 0.45)": ssim_krtio}))
        writer.figure("fig16_robust_cnn.png", plotting.plot_heatmaps(grid, targets=["provider CNN", "robust CNN"], k=3))
        fig17_targets = [n for n in ("eigenfaces", "provider CNN", "robust CNN", "dlib ResNet", "dlib HOG") if n in targets]
        writer.figure("fig17_filters.png", plotting.plot_filters(filt, targets=fig17_targets))
        writer.figure("fig08_uep_beta.png", plotting.plot_beta(uep_table))
        from ..plotting import show_images

        block, shown, attacked = examples
        n = len(shown)
        writer.figure("known_s_attack.png", show_images(
            [*x[:n], *shown, *attacked], ["clean"] * n + [f"k-RTIO, block {block}"] * n + ["known-S attack"] * n,
            ncols=n, size=1.6, suptitle="The known-S block attack (alpha 0.45, k = 3)"))
        t = lap("figures", t)

    seconds["total"] = time.perf_counter() - t0
    claims = paper_claims(grid, filt, uep_table, recovery, settings, info)
    env = {"device": str(device), "platform": platform.platform(), "python": platform.python_version(),
           "numpy": np.__version__}
    best_table = pd.concat(best.values(), ignore_index=True)
    clean_rates = {r.target: float(r.rate) for r in front[front.scheme == "clean"].itertuples()}
    for name, table in (("krtio_grid.csv", grid), ("filters.csv", filt), ("uep.csv", uep_table), ("known_s.csv", known),
                        ("frontier.csv", front), ("best_settings.csv", best_table)):
        writer.text(name, table.to_csv(index=False))
    results = {
        "imgprivacy": __version__, "faces": info, "settings": asdict(settings), "environment": env, "seconds": seconds,
        "frontier": {"best": records(best_table), "min_ssim": list(MIN_SSIM)}, "compare": earlier,
        "notes": notes, "eval_faces": {"n": int(len(x)), "people": int(len(np.unique(y))), "limits": limits},
        "uep": {"c": result.c, "norm": result.norm, "fooling_rate": result.fooling_rate},
        "recovery_ssim": recovery, "known_s_attack": known_rows, "claims": claims,
        "tables": {"krtio": records(grid), "filters": records(filt), "uep": records(uep_table)},
    }
    writer.text("results.json", json.dumps(json_safe(results), indent=1))
    writer.text("report.md", markdown(claims, settings, seconds, env, notes, known_rows, figures, info=info,
                                      best=best_table, earlier=earlier, clean=clean_rates))
    return Report(out, tuple(writer.files), claims, seconds)
