"""Thin head subclasses that pass droplet sizes to size-weighted losses.

mmdet's heads do not give their losses the size of the ground truth a sample
is matched to. Each subclass here overrides one target/loss method, asks its
loss for ``object_weights(matched_gt_boxes)`` (all ones for an mmdet loss
without size weighting) and multiplies the weights mmdet already passes. The
loss calls keep mmdet's contract.

Shorthand: A anchors, P positive samples of one image, R RoIs, M mask size.
"""
from typing import List

import torch
from mmdet.models.dense_heads import RPNHead
from mmdet.models.roi_heads.bbox_heads import Shared2FCBBoxHead
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmdet.models.task_modules.prior_generators import anchor_inside_flags
from mmdet.registry import MODELS
from mmdet.structures.bbox import get_box_tensor
from torch import Tensor


def _object_weights(loss, gt_boxes: Tensor) -> Tensor:
    """(P, 4) matched GT boxes -> (P,) weights from a loss (ones if the loss
    has no size weighting)."""
    fn = getattr(loss, 'object_weights', None)
    if fn is None:
        return gt_boxes.new_ones(gt_boxes.shape[0])
    return fn(get_box_tensor(gt_boxes))


@MODELS.register_module()
class SizeWeightedRPNHead(RPNHead):
    """``RPNHead`` whose positive anchors are weighted by matched GT size
    (through ``loss_cls`` and ``loss_bbox`` ``object_weights``)."""

    def _get_targets_single(self, flat_anchors, valid_flags, gt_instances,
                            img_meta, gt_instances_ignore=None,
                            unmap_outputs=True) -> tuple:
        (labels, label_weights, bbox_targets, bbox_weights, pos_inds,
         neg_inds, sampling_result) = super()._get_targets_single(
             flat_anchors, valid_flags, gt_instances, img_meta,
             gt_instances_ignore, unmap_outputs)
        if len(pos_inds) > 0:
            # pos_inds index the anchors inside the image; map them to the
            # full anchor list when the outputs were unmapped.
            idx = pos_inds
            if unmap_outputs:
                inside = anchor_inside_flags(
                    flat_anchors, valid_flags, img_meta['img_shape'][:2],
                    self.train_cfg['allowed_border'])
                idx = torch.nonzero(inside, as_tuple=False).squeeze(1)[idx]
            gt = sampling_result.pos_gt_bboxes
            label_weights[idx] *= _object_weights(self.loss_cls, gt)
            bbox_weights[idx] *= _object_weights(self.loss_bbox, gt)[:, None]
        return (labels, label_weights, bbox_targets, bbox_weights, pos_inds,
                neg_inds, sampling_result)


@MODELS.register_module()
class SizeWeightedShared2FCBBoxHead(Shared2FCBBoxHead):
    """``Shared2FCBBoxHead`` whose positive RoIs are weighted by matched GT
    size (box regression through ``loss_bbox``, classification through
    ``loss_cls`` if it is size-weighted)."""

    def _get_targets_single(self, pos_priors, neg_priors, pos_gt_bboxes,
                            pos_gt_labels, cfg) -> tuple:
        labels, label_weights, bbox_targets, bbox_weights = \
            super()._get_targets_single(pos_priors, neg_priors,
                                        pos_gt_bboxes, pos_gt_labels, cfg)
        num_pos = pos_priors.size(0)
        if num_pos > 0:
            label_weights[:num_pos] *= _object_weights(
                self.loss_cls, pos_gt_bboxes)
            bbox_weights[:num_pos] *= _object_weights(
                self.loss_bbox, pos_gt_bboxes)[:, None]
        return labels, label_weights, bbox_targets, bbox_weights


@MODELS.register_module()
class SizeWeightedFCNMaskHead(FCNMaskHead):
    """``FCNMaskHead`` that passes per-RoI size weights to ``loss_mask``
    (use :class:`SizeWeightedMaskLoss`)."""

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
        pos_labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        if self.class_agnostic:
            pos_labels = torch.zeros_like(pos_labels)
        if mask_preds.size(0) == 0:
            loss_mask = mask_preds.sum()
        else:
            weight = torch.cat([
                _object_weights(self.loss_mask, res.pos_gt_bboxes)
                for res in sampling_results
            ])
            loss_mask = self.loss_mask(mask_preds, mask_targets, pos_labels,
                                       weight=weight)
        return dict(loss_mask=dict(loss_mask=loss_mask),
                    mask_targets=mask_targets)
