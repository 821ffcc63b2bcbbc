"""Thin RoI-head subclasses that pass droplet sizes to size-weighted losses.

mmdet's heads do not give their losses the size of the droplet a sample is
matched to. Each subclass here overrides one target/loss method, asks its
loss for ``object_weights(sizes)`` (all ones for an mmdet loss without size
weighting) and multiplies the weights mmdet already passes. The loss calls
keep mmdet's contract. Dense (anchor) heads: :mod:`.anchor_heads`.

The size of a matched droplet is its *true* size, ``gt_instances.
droplet_sizes`` (``RecordDropletSize`` ... ``PackDropletInputs`` in the
train pipeline), so a droplet cut by a crop keeps the weight of the whole
droplet. Without that field the visible box ``sqrt(w * h)`` is used, with
one warning: cut remnants then weigh as small droplets.

Shorthand: A anchors, P positive samples of one image, R RoIs, M mask size.
"""
from typing import List

import torch
from mmdet.models.roi_heads import CascadeRoIHead, StandardRoIHead
from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmdet.registry import MODELS
from mmdet.structures.bbox import get_box_tensor
from mmengine.logging import print_log
from torch import Tensor

from ..losses.size_weight import box_sizes

_warned = []


def matched_sizes(sampling_result, gt_instances=None) -> Tensor:
    """True sizes (P,) of the droplets the positives are matched to.

    Taken from ``gt_instances.droplet_sizes`` (or the ``pos_gt_sizes`` that
    :class:`SizeWeightedRoIHead` stamps on its sampling results); else the
    visible boxes' ``sqrt(w * h)``, with one warning.
    """
    sizes = getattr(sampling_result, 'pos_gt_sizes', None)
    if sizes is not None:
        return sizes
    if gt_instances is not None and 'droplet_sizes' in gt_instances:
        idx = sampling_result.pos_assigned_gt_inds.long()
        return gt_instances.droplet_sizes.to(idx.device)[idx].float()
    if not _warned:
        _warned.append(True)
        print_log(
            'size weighting without gt_instances.droplet_sizes: weights '
            'follow the visible (cropped) boxes, so droplets cut by a crop '
            'weigh as small ones. Add RecordDropletSize after '
            'LoadAnnotations and PackDropletInputs instead of PackDetInputs '
            'to the train pipeline.', logger='current', level=30)
    return box_sizes(get_box_tensor(sampling_result.pos_gt_bboxes))


def _object_weights(loss, sizes: Tensor) -> Tensor:
    """(P,) droplet sizes -> (P,) weights from a loss (ones if the loss has
    no size weighting)."""
    fn = getattr(loss, 'object_weights', None)
    if fn is None:
        return sizes.new_ones(sizes.shape[0])
    return fn(sizes)


def mark_fed(head, *loss_names: str) -> None:
    """Tell the head's size-weighted losses that ``head`` passes them
    droplet sizes (called on every target computation, positives or not:
    a loss whose weighting is on refuses to run without it)."""
    for name in loss_names:
        loss = getattr(head, name, None)
        if hasattr(loss, 'mark_fed'):
            loss.mark_fed(type(head).__name__)


class _GtSizeSampler:
    """Wraps an mmdet sampler: its sampling results also carry
    ``pos_gt_sizes`` (P,), the true sizes of the matched droplets."""

    def __init__(self, sampler):
        self.sampler = sampler

    def __getattr__(self, name):
        return getattr(self.__dict__['sampler'], name)

    def sample(self, assign_result, pred_instances, gt_instances, **kwargs):
        res = self.sampler.sample(assign_result, pred_instances,
                                  gt_instances, **kwargs)
        if 'droplet_sizes' in gt_instances:
            res.pos_gt_sizes = matched_sizes(res, gt_instances)
        return res


@MODELS.register_module()
class SizeWeightedRoIHead(StandardRoIHead):
    """``StandardRoIHead`` whose sampling results carry the true sizes of
    the matched droplets (``pos_gt_sizes``) to the size-weighted box and
    mask heads. Everything else is mmdet's."""

    def init_assigner_sampler(self) -> None:
        super().init_assigner_sampler()
        if self.bbox_sampler is not None:
            self.bbox_sampler = _GtSizeSampler(self.bbox_sampler)


@MODELS.register_module()
class SizeWeightedCascadeRoIHead(CascadeRoIHead):
    """``CascadeRoIHead`` whose sampling results (every stage) carry the
    true sizes of the matched droplets, as :class:`SizeWeightedRoIHead`."""

    def init_assigner_sampler(self) -> None:
        super().init_assigner_sampler()
        self.bbox_sampler = [_GtSizeSampler(s) for s in self.bbox_sampler]


@MODELS.register_module()
class SizeWeightedShared2FCBBoxHead(Shared2FCBBoxHead):
    """``Shared2FCBBoxHead`` whose positive RoIs are weighted by the true
    size of their matched droplet (box regression through ``loss_bbox``,
    classification through ``loss_cls`` if it is size-weighted). Use it
    under :class:`SizeWeightedRoIHead`, which passes those sizes."""

    def get_targets(self, sampling_results: List, rcnn_train_cfg,
                    concat: bool = True) -> tuple:
        labels, label_weights, bbox_targets, bbox_weights = \
            super().get_targets(sampling_results, rcnn_train_cfg,
                                concat=False)
        mark_fed(self, 'loss_cls', 'loss_bbox')
        for res, lw, bw in zip(sampling_results, label_weights,
                               bbox_weights):
            num_pos = res.pos_priors.size(0)  # positives come first
            if num_pos > 0:
                sizes = matched_sizes(res)
                lw[:num_pos] *= _object_weights(self.loss_cls, sizes)
                bw[:num_pos] *= _object_weights(self.loss_bbox,
                                                sizes)[:, None]
        if concat:
            labels = torch.cat(labels, 0)
            label_weights = torch.cat(label_weights, 0)
            bbox_targets = torch.cat(bbox_targets, 0)
            bbox_weights = torch.cat(bbox_weights, 0)
        return labels, label_weights, bbox_targets, bbox_weights


@MODELS.register_module()
class SizeWeightedFCNMaskHead(FCNMaskHead):
    """``FCNMaskHead`` that passes per-RoI size weights to ``loss_mask``
    (use :class:`SizeWeightedMaskLoss`), from the true droplet sizes."""

    def loss_and_target(self, mask_preds: Tensor, sampling_results: List,
                        batch_gt_instances, rcnn_train_cfg) -> dict:
        """Same as ``FCNMaskHead.loss_and_target`` plus ``weight=``.

        Args:
            mask_preds: (R, C, M, M) logits of the positive RoIs.
        """
        mask_targets = self.get_targets(
            sampling_results=sampling_results,
            batch_gt_instances=batch_gt_instances,
            rcnn_train_cfg=rcnn_train_cfg)
        mark_fed(self, 'loss_mask')
        pos_labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        if self.class_agnostic:
            pos_labels = torch.zeros_like(pos_labels)
        if mask_preds.size(0) == 0:
            loss_mask = mask_preds.sum()
        else:
            weight = torch.cat([
                _object_weights(self.loss_mask, matched_sizes(res, gt))
                for res, gt in zip(sampling_results, batch_gt_instances)
            ])
            loss_mask = self.loss_mask(mask_preds, mask_targets, pos_labels,
                                       weight=weight)
        return dict(loss_mask=dict(loss_mask=loss_mask),
                    mask_targets=mask_targets)
