"""Image-quality and classifier metrics: PSNR, SSIM and (later) recognition rates.

The data range is always explicit (the canonical range of this package is
[0, 1], so ``data_range=1.0`` is the default) and never guessed from a dtype.
"""

from __future__ import annotations

import numpy as np

from ._validation import check_same_shape

__all__ = ["psnr", "ssim"]


def _pair(a, b, name_a, name_b):
    a = np.asarray(a)
    b = np.asarray(b)
    for arr, name in ((a, name_a), (b, name_b)):
        if not np.issubdtype(arr.dtype, np.floating):
            raise TypeError(f"{name} must be a float image (canonical range [0, 1]), got dtype {arr.dtype}")
    check_same_shape(a, b, name_a, name_b)
    return a.astype(np.float64), b.astype(np.float64)


def _check_range(data_range):
    if not (isinstance(data_range, (int, float)) and data_range > 0):
        raise ValueError(f"data_range must be a positive number, got {data_range!r}")
    return float(data_range)


def psnr(reference: np.ndarray, test: np.ndarray, *, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB; ``inf`` for identical images.

    Parameters
    ----------
    reference, test : ndarray of the same shape
        Float images.
    data_range : float, default 1.0
        Distance between the smallest and largest possible value.

    Returns
    -------
    float

    Examples
    --------
    >>> x = np.zeros((8, 8), dtype=np.float32)
    >>> round(psnr(x, x + 0.1), 2)
    20.0
    """
    a, b = _pair(reference, test, "reference", "test")
    data_range = _check_range(data_range)
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else float(10.0 * np.log10(data_range**2 / mse))


def ssim(reference: np.ndarray, test: np.ndarray, *, data_range: float = 1.0) -> float:
    """Structural similarity (Wang et al. 2004) with Gaussian weights.

    A thin wrapper of :func:`skimage.metrics.structural_similarity` with the
    data range passed explicitly and channel-last colour handled.  Images
    smaller than 7x7 use the largest odd window that fits.

    Parameters
    ----------
    reference, test : ndarray of shape (H, W) or (H, W, C)
    data_range : float, default 1.0

    Returns
    -------
    float
        1.0 for identical images.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> x = rng.random((8, 8)).astype(np.float32)
    >>> ssim(x, x)
    1.0
    """
    from skimage.metrics import structural_similarity

    a, b = _pair(reference, test, "reference", "test")
    data_range = _check_range(data_range)
    if a.ndim not in (2, 3):
        raise ValueError(f"reference must have shape (H, W) or (H, W, C), got {a.shape}")
    if a.ndim == 3 and a.shape[2] == 1:
        a, b = a[..., 0], b[..., 0]
    side = min(a.shape[0], a.shape[1])
    if side < 3:
        raise ValueError(f"ssim needs images of at least 3x3 pixels, got shape {a.shape}")
    kwargs = {"data_range": data_range, "gaussian_weights": True, "sigma": 1.5, "use_sample_covariance": False}
    if side < 11:
        kwargs = {"data_range": data_range, "win_size": side if side % 2 else side - 1}
    return float(structural_similarity(a, b, channel_axis=2 if a.ndim == 3 else None, **kwargs))
