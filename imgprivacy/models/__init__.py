"""The user's side: small face CNNs, the thumbnail layer, training, devices and checkpoints.

In the paper's threat model (section 3, section 6.1) the user cannot query the
provider's recogniser.  To learn a Universal Ensemble Perturbation (UEP) she
trains a few *small local CNNs* on the few identities she has (10 people) and
attacks them instead, hoping the perturbation transfers.  This module builds
and trains those networks:

* **Architectures** (:func:`build_model`, names in :data:`ARCHITECTURES`):
  two VGG-style networks of different depth and width (``"vgg_a"``, 5 conv +
  2 FC layers like the paper's "VGG-16" of appendix C; ``"vgg_b"``, 7
  narrower conv layers) and the paper's "FaceScrub CNN" (3 conv + 2 FC)
  behind a :class:`Thumbnail` layer (``"facescrub_thumb"``: it sees the
  input at half resolution, paper Fig. 19).  ``"provider_resnet"`` is a
  small residual network used only by the provider's
  :class:`imgprivacy.targets.ProviderCNN`; the user's ensemble never uses it.
  Every network takes float32 tensors (N, C, H, W) in [0, 1] (grey C = 1 or
  RGB C = 3, any size from 16 x 16 pixels up: a final adaptive pooling fixes
  the classifier's input) and returns logits (N, n_classes).
* **The torch boundary**: :func:`to_tensor` / :func:`from_tensor` are the
  only converters between canonical numpy images (N, H, W[, C]) and tensors;
  :func:`eval_mode` runs a block with a model in eval (or train) mode and
  restores it, :func:`model_device` says where a model's weights are.
* **Training**: :func:`train` (augmentation for tiny face sets, one-cycle
  learning rate, progress bar, seeded and restartable), :func:`predict`,
  :func:`accuracy`, :func:`pick_device` (CUDA, else Apple MPS, else CPU) and
  :func:`torch_threads`; :class:`Adam` and :func:`one_cycle`, torch.optim's
  Adam/AdamW and OneCycleLR bit for bit without the 70 MB of
  ``torch._dynamo`` that torch.optim's first call imports.
* **The user's ensemble**: :func:`split_per_subject` and
  :func:`local_ensemble` (three networks trained on 10 subjects, 7 images
  each, the other 3 held out), returning a :class:`LocalEnsemble`.
* **Checkpoints**: :func:`save_checkpoint` / :func:`load_checkpoint` /
  :func:`load_ensemble` (weights, architecture, settings, data split,
  dataset name and library version; atomic, never silently overwritten,
  loaded with ``torch.load(weights_only=True)``), and :func:`cached_ensemble`,
  a ready-trained ensemble shipped in ``data/checkpoints/`` for the
  notebooks' fast mode (:func:`cached_path` finds a shipped file,
  :func:`training_faces` the face set it was trained on).

The code lives in private modules, every public name re-exported here:
``_nets.py`` (layers, architectures, :func:`build_model`), ``_optim.py`` (the optimiser), ``_torch.py``
(the torch boundary, devices, threads, a model's mode and device),
``_train.py`` (:func:`train`, :func:`predict`, :func:`accuracy`),
``_split.py`` (:class:`Split`, :func:`split_per_subject`),
``_checkpoints.py`` (:class:`Checkpoint`, :class:`LocalEnsemble` and the
checkpoint files) and ``_ensemble.py`` (:func:`local_ensemble`,
:func:`cached_ensemble`).

CPU threads
-----------
Training runs with **one** torch thread on the CPU by default
(:data:`DEFAULT_CPU_THREADS`), set only inside :func:`train` (by
:func:`torch_threads`), never globally.  Measured on the 2-core machine
(``benchmarks/bench_models.py``, torch 2.13 CPU, the three local CNNs,
batches of 16 faces of 64 x 64), time with 2 threads / time with 1 thread:

* machine otherwise idle: 0.79 (2 threads 21% faster, 2.1 s vs 2.7 s for
  15 epochs of all three);
* one other CPU-bound process (another engineer's job): 1.11 (2 threads
  1.71x slower for the thumbnail CNN, slightly faster for the VGGs);
* one busy process started by the benchmark on the idle machine: 3.07;
* two busy processes (that job + the benchmark's): 14.7 (one network took
  38x longer: 35.5 s vs 0.9 s);
* an early prototype at load ~4: 5.9 to 7x slower with 2 threads.

So a second thread buys at best ~20% on an idle machine and costs several
times over as soon as anything else runs (a notebook kernel next to a test
run, a second notebook): these convolutions (a few MFLOP per image) are too
small for intra-op parallelism to pay for its synchronisation, and a
descheduled worker stalls every step.  Pass ``threads=2`` (or more on
larger machines) to :func:`train` when the cores are free.

Importing :mod:`imgprivacy` does not import this subpackage (nor torch); it is
loaded on first access to ``imgprivacy.models``.
"""

from __future__ import annotations

from ._checkpoints import (
    CACHED_FILES,
    CHECKPOINT_FORMAT_VERSION,
    SHIPPED_FACES,
    Checkpoint,
    LocalEnsemble,
    cached_file,
    cached_path,
    checkpoint_dir,
    load_checkpoint,
    load_ensemble,
    save_checkpoint,
    shipped_dataset,
    training_faces,
)
from ._ensemble import cached_ensemble, local_ensemble
from ._nets import ARCHITECTURES, LOCAL_ARCHITECTURES, FaceCNN, Standardize, Thumbnail, build_model
from ._optim import Adam, one_cycle
from ._split import Split, split_per_subject
from ._torch import eval_mode, from_tensor, model_device, pick_device, to_tensor, torch_threads
from ._train import DEFAULT_CPU_THREADS, TrainHistory, accuracy, predict, train

__all__ = [
    "ARCHITECTURES",
    "Adam",
    "CACHED_FILES",
    "CHECKPOINT_FORMAT_VERSION",
    "DEFAULT_CPU_THREADS",
    "LOCAL_ARCHITECTURES",
    "SHIPPED_FACES",
    "Checkpoint",
    "FaceCNN",
    "LocalEnsemble",
    "Split",
    "Standardize",
    "Thumbnail",
    "TrainHistory",
    "accuracy",
    "build_model",
    "cached_ensemble",
    "cached_file",
    "cached_path",
    "checkpoint_dir",
    "eval_mode",
    "from_tensor",
    "load_checkpoint",
    "load_ensemble",
    "local_ensemble",
    "model_device",
    "one_cycle",
    "pick_device",
    "predict",
    "save_checkpoint",
    "shipped_dataset",
    "split_per_subject",
    "to_tensor",
    "torch_threads",
    "train",
    "training_faces",
]
