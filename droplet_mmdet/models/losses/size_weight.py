"""Size weights: errors on smaller droplets weigh more.

Pure tensor functions. Shorthand: K matched objects.

The weight of a positive sample (anchor, RoI) matched to a droplet whose
box (before any crop cut it; ``RecordDropletSize``) is ``w`` x ``h`` in
*input* pixels (after the pipeline's resizing) is

    s = sqrt(w * h)
    w(s) = clamp((s_ref / s) ** gamma, 1, w_max)

so droplets at or above ``s_ref`` px weigh 1 and smaller ones up to
``w_max``. With ``normalize=True`` the weights of one image's positives are
divided by their mean, so the loss keeps its overall scale and only the
balance between small and large droplets changes. ``gamma = 0`` turns the
weighting off (all weights 1).
"""

import torch
from torch import Tensor


def box_sizes(boxes: Tensor) -> Tensor:
    """Equivalent side ``sqrt(w * h)`` of (K, 4) xyxy boxes -> (K,)."""
    wh = (boxes[:, 2:4] - boxes[:, 0:2]).clamp(min=0)
    return (wh[:, 0] * wh[:, 1]).sqrt()


def size_weights(sizes: Tensor, s_ref: float = 24.0, gamma: float = 1.0,
                 w_max: float = 4.0, normalize: bool = True) -> Tensor:
    """Per-object weights for sizes (K,) in px -> (K,).

    Args:
        sizes: equivalent sides in input pixels (> 0).
        s_ref: size at and above which the weight is 1.
        gamma: strength; 0 gives all-ones.
        w_max: largest weight (before normalisation).
        normalize: divide by the mean weight so that ``mean == 1``.
    """
    if sizes.numel() == 0 or gamma == 0:
        return torch.ones_like(sizes)
    w = (s_ref / sizes.clamp(min=1e-3)).pow(gamma).clamp(min=1.0, max=w_max)
    if normalize:
        w = w / w.mean()
    return w
