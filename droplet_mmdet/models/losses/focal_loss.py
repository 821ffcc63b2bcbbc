"""Size-weighted focal and box-regression losses.

Each loss carries a ``size_weight`` config (see
:mod:`droplet_mmdet.models.losses.size_weight`) and keeps mmdet's contract
``forward(pred, target, weight=None, avg_factor=None,
reduction_override=None)`` unchanged: the thin head subclasses in
:mod:`droplet_mmdet.models.heads` ask the loss for
``object_weights(sizes)`` of the matched droplets and fold them into the
``weight`` they already pass. With ``size_weight=None`` (or ``gamma=0``)
these losses are exactly mmdet's ``FocalLoss`` and ``L1Loss``, except that
the focal loss always computes in float32 (below).

**Focal loss under fp16 AMP.** On a GPU mmdet's ``FocalLoss`` calls mmcv's
``sigmoid_focal_loss`` CUDA kernel with the logits autocast left in float16.
The kernel evaluates ``log(max(1 - p, (T)FLT_MIN))``, and FLT_MIN rounds to
0 in float16, so any logit above ~7.6 (p rounds to 1) gives ``log(0)``: an
infinite loss and NaN gradients (open-mmlab/mmcv#1488). Measured on an H200
(``tools/benchmark_speed.py``, slim config with the RPN focal loss, batch 8
of 512 px): 29 of 105 fp16 iterations had a non-finite loss, against none
in fp32 and none for the configs without focal loss. Casting the logits to
float32 first, as mmdet 2.x's ``force_fp32`` did, removes the cause.

A head that does not pass sizes (mmdet's ``RetinaHead``, ``FCOSHead``, any
RTMDet head, ...) would make a size-weighted loss silently act as the
plain loss. So a loss whose weighting is on refuses its first call unless
sizes reach it: a head marks it (:meth:`SizeWeightMixin.mark_fed`) every
time it computes targets, and :meth:`SizeWeightMixin.object_weights` marks
it too. Otherwise the call raises an error naming the head and the loss.
"""
import inspect
from typing import Optional

import torch
from mmdet.models.losses import FocalLoss, L1Loss
from mmdet.registry import MODELS
from torch import Tensor, nn

from .size_weight import size_weights

SIZE_FEEDING_HEADS = (
    'SizeWeightedRPNHead, SizeWeightedRetinaHead or any AnchorHead '
    'subclass with SizeWeightedAnchorHeadMixin (dense heads); '
    'SizeWeightedShared2FCBBoxHead and SizeWeightedFCNMaskHead under '
    'SizeWeightedRoIHead / SizeWeightedCascadeRoIHead (RoI heads)')


def _owner_of(module: nn.Module) -> Optional[str]:
    """``Head.attr`` of the module that holds ``module`` and is calling it
    (found on the call stack), or None."""
    frame = inspect.currentframe()
    try:
        while frame is not None:
            obj = frame.f_locals.get('self', None)
            if isinstance(obj, nn.Module) and obj is not module:
                for name, child in obj.named_children():
                    if child is module:
                        return f'{type(obj).__name__}.{name}'
            frame = frame.f_back
    finally:
        del frame
    return None


class SizeWeightMixin:
    """Holds ``size_weight``, turns matched droplet sizes into weights and
    checks that sizes reach the loss."""

    #: who gives this loss droplet sizes (None: nobody yet)
    size_source: Optional[str] = None

    def _init_size_weight(self, size_weight: Optional[dict]) -> None:
        self.size_weight = dict(size_weight) if size_weight else None

    @property
    def size_weighting_on(self) -> bool:
        """True when ``size_weight`` is set with ``gamma != 0``."""
        return bool(self.size_weight) and \
            self.size_weight.get('gamma', 1.0) != 0

    def mark_fed(self, source: str) -> None:
        """Record that ``source`` (a head) passes droplet sizes to this
        loss through :meth:`object_weights`."""
        self.size_source = source

    def object_weights(self, sizes: Tensor) -> Tensor:
        """(K,) droplet sizes ``sqrt(w * h)`` in input px -> (K,) weights
        (ones if off)."""
        if self.size_source is None:
            self.size_source = 'object_weights'
        if not self.size_weighting_on:
            return torch.ones_like(sizes)
        return size_weights(sizes, **self.size_weight)

    def check_fed(self) -> None:
        """Raise if the weighting is on and no sizes ever reached the loss
        (its head does not pass them, so it would act as the plain loss).

        Raises:
            RuntimeError: naming the loss and the head that calls it.
        """
        if self.size_source is not None or not self.size_weighting_on:
            return
        what = f'{type(self).__name__} with size_weight={self.size_weight}'
        owner = _owner_of(self)
        if owner is None:
            where = f'a {what} was called, but nothing gave it droplet ' \
                'sizes (object_weights() was never called)'
        else:
            where = f'{owner} is a {what}, but {owner.split(".")[0]} ' \
                'gives it no droplet sizes'
        raise RuntimeError(
            f'{where}: it would train as the plain loss, without size '
            f'weighting. Use a head that passes sizes ({SIZE_FEEDING_HEADS})'
            ', or set size_weight=None for the plain loss.')


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

    def forward(self, pred: Tensor, target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """mmdet's ``forward`` on float32 logits, after
        :meth:`SizeWeightMixin.check_fed`."""
        self.check_fed()
        return super().forward(pred.float(), target, weight, avg_factor,
                               reduction_override)


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

    def forward(self, pred: Tensor, target: Tensor,
                weight: Optional[Tensor] = None,
                avg_factor: Optional[float] = None,
                reduction_override: Optional[str] = None) -> Tensor:
        """mmdet's ``forward``, after :meth:`SizeWeightMixin.check_fed`."""
        self.check_fed()
        return super().forward(pred, target, weight, avg_factor,
                               reduction_override)
