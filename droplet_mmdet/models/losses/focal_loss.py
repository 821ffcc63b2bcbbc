"""Size-weighted focal and box-regression losses.

Each loss carries a ``size_weight`` config (see
:mod:`droplet_mmdet.models.losses.size_weight`) and keeps mmdet's contract
``forward(pred, target, weight=None, avg_factor=None,
reduction_override=None)`` unchanged: the thin head subclasses in
:mod:`droplet_mmdet.models.heads` ask the loss for
``object_weights(sizes)`` of the matched droplets and fold them into the
``weight`` they already pass. With ``size_weight=None`` (or ``gamma=0``)
these losses are exactly mmdet's ``FocalLoss`` and ``L1Loss``.
"""
from typing import Optional

import torch
from mmdet.models.losses import FocalLoss, L1Loss
from mmdet.registry import MODELS
from torch import Tensor

from .size_weight import size_weights


class SizeWeightMixin:
    """Holds ``size_weight`` and turns matched droplet sizes into
    weights."""

    def _init_size_weight(self, size_weight: Optional[dict]) -> None:
        self.size_weight = dict(size_weight) if size_weight else None

    def object_weights(self, sizes: Tensor) -> Tensor:
        """(K,) droplet sizes ``sqrt(w * h)`` in input px -> (K,) weights
        (ones if off)."""
        if not self.size_weight:
            return torch.ones_like(sizes)
        return size_weights(sizes, **self.size_weight)


@MODELS.register_module()
class SizeWeightedFocalLoss(SizeWeightMixin, FocalLoss):
    """Sigmoid focal loss whose positives are weighted by droplet size.

    Args:
        size_weight (dict, optional): ``dict(s_ref=24., gamma=1., w_max=4.,
            normalize=True)``; None turns the size weighting off.
        **kwargs: mmdet ``FocalLoss`` arguments (gamma, alpha, ...).
    """

    def __init__(self, size_weight: Optional[dict] = None, **kwargs):
        super().__init__(**kwargs)
        self._init_size_weight(size_weight)


@MODELS.register_module()
class SizeWeightedL1Loss(SizeWeightMixin, L1Loss):
    """L1 box-regression loss whose positives are weighted by droplet size.

    Args:
        size_weight (dict, optional): as :class:`SizeWeightedFocalLoss`.
        **kwargs: mmdet ``L1Loss`` arguments.
    """

    def __init__(self, size_weight: Optional[dict] = None, **kwargs):
        super().__init__(**kwargs)
        self._init_size_weight(size_weight)
