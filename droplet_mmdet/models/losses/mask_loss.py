"""Size-weighted mask loss: per-RoI weights for mmdet's mask BCE.

mmdet's ``mask_cross_entropy`` ignores ``weight``; this loss takes a (R,)
per-RoI weight, keeps mmdet's call ``loss_mask(pred, target, label)`` and its
``forward(pred, target, label, weight, avg_factor, reduction_override)``
contract. Shorthand: R RoIs, C classes, M mask size.
"""
from typing import Optional

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.models.losses.utils import weight_reduce_loss
from mmdet.registry import MODELS
from torch import Tensor

from .focal_loss import SizeWeightMixin


def weighted_mask_bce(pred: Tensor, target: Tensor, label: Tensor,
                      weight: Optional[Tensor] = None,
                      reduction: str = 'mean',
                      avg_factor: Optional[float] = None) -> Tensor:
    """Binary cross-entropy of each RoI's mask for its class.

    Args:
        pred: (R, C, M, M) logits.
        target: (R, M, M) binary targets.
        label: (R,) class of each RoI (selects the channel of ``pred``).
        weight: (R,) per-RoI weight, or None.

    Returns:
        Tensor: the reduced loss (per-RoI mean over the M x M pixels first).
    """
    num_rois = pred.size(0)
    if num_rois == 0:
        return pred.sum() * 0
    inds = torch.arange(num_rois, device=pred.device)
    pred_slice = pred[inds, label]
    loss = F.binary_cross_entropy_with_logits(
        pred_slice, target.float(), reduction='none').flatten(1).mean(1)
    return weight_reduce_loss(loss, weight, reduction, avg_factor)


@MODELS.register_module()
class SizeWeightedMaskLoss(SizeWeightMixin, nn.Module):
    """Mask BCE with per-RoI weights (from :class:`SizeWeightedFCNMaskHead`).

    Args:
        size_weight (dict, optional): see :class:`SizeWeightedFocalLoss`.

    With ``weight=None`` it equals mmdet's
    ``CrossEntropyLoss(use_mask=True)``.
    """

    def __init__(self, size_weight: Optional[dict] = None,
                 reduction: str = 'mean', loss_weight: float = 1.0):
        super().__init__()
        self._init_size_weight(size_weight)
        self.reduction = reduction
        self.loss_weight = loss_weight

    def forward(self, pred: Tensor, target: Tensor, label: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        assert reduction_override in (None, 'none', 'mean', 'sum')
        self.check_fed()
        reduction = reduction_override or self.reduction
        return self.loss_weight * weighted_mask_bce(
            pred, target, label, weight, reduction, avg_factor)
