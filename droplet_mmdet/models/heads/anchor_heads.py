"""Size weighting for mmdet's anchor-based dense heads.

:class:`SizeWeightedAnchorHeadMixin` gives any head that computes its
targets with ``AnchorHead._get_targets_single`` (``RPNHead``,
``RetinaHead``, ``SSDHead``, ``RetinaSepBNHead``, ...) the true size of the
droplet each positive anchor is matched to, and multiplies the positive
anchors' classification and box weights by its losses'
``object_weights(sizes)`` (all ones for an mmdet loss). Heads that compute
their targets another way (ATSS, GFL, FCOS, RTMDet, ...) are refused when
built; a size-weighted loss in such a head refuses its first call (see
:mod:`droplet_mmdet.models.losses.focal_loss`).

Shorthand: A anchors of one image, I anchors inside the image (A if
``allowed_border`` is -1), P positive anchors.
"""
import torch
from mmdet.models.dense_heads import AnchorHead, RetinaHead, RPNHead
from mmdet.models.task_modules.prior_generators import anchor_inside_flags
from mmdet.registry import MODELS

from .size_weighted_heads import _object_weights, mark_fed, matched_sizes


def _check_anchor_targets(cls: type) -> None:
    """``cls`` must get its targets from ``AnchorHead._get_targets_single``.

    Raises:
        TypeError: naming the class that overrides the target computation.
    """
    mro = cls.__mro__
    after = mro[mro.index(SizeWeightedAnchorHeadMixin) + 1:]
    owner = next((c for c in after if '_get_targets_single' in vars(c)),
                 None)
    if owner is not AnchorHead or not issubclass(cls, AnchorHead):
        raise TypeError(
            f'{cls.__name__}: SizeWeightedAnchorHeadMixin needs a head '
            'whose targets come from AnchorHead._get_targets_single, but '
            f'{getattr(owner, "__name__", "nothing")} computes them. '
            'Use the plain head with size_weight=None in its losses.')


class SizeWeightedAnchorHeadMixin:
    """Put before an ``AnchorHead`` subclass: its positive anchors are
    weighted by the true size of their matched droplet.

    The size is ``gt_instances.droplet_sizes`` (``RecordDropletSize`` ...
    ``PackDropletInputs`` in the train pipeline); without it, the visible
    box, with one warning. Both ``loss_cls`` and ``loss_bbox`` are asked
    for weights, so either may be size-weighted.

    Example::

        @MODELS.register_module()
        class SizeWeightedSSDHead(SizeWeightedAnchorHeadMixin, SSDHead):
            pass
    """

    def __init__(self, *args, **kwargs) -> None:
        _check_anchor_targets(type(self))
        super().__init__(*args, **kwargs)

    def _get_targets_single(self, flat_anchors, valid_flags, gt_instances,
                            img_meta, gt_instances_ignore=None,
                            unmap_outputs=True) -> tuple:
        """``AnchorHead._get_targets_single`` with size-weighted positives.

        ``pos_inds`` (P,) index the I anchors inside the image; with
        ``unmap_outputs`` the weights (A,) / (A, 4) cover all A anchors,
        so the positives are mapped through the inside flags first.
        """
        (labels, label_weights, bbox_targets, bbox_weights, pos_inds,
         neg_inds, sampling_result) = super()._get_targets_single(
             flat_anchors, valid_flags, gt_instances, img_meta,
             gt_instances_ignore, unmap_outputs)
        mark_fed(self, 'loss_cls', 'loss_bbox')
        if len(pos_inds) > 0:
            idx = pos_inds
            if unmap_outputs:
                inside = anchor_inside_flags(
                    flat_anchors, valid_flags, img_meta['img_shape'][:2],
                    self.train_cfg['allowed_border'])
                idx = torch.nonzero(inside, as_tuple=False).squeeze(1)[idx]
            sizes = matched_sizes(sampling_result, gt_instances)
            label_weights[idx] *= _object_weights(self.loss_cls, sizes)
            bbox_weights[idx] *= _object_weights(self.loss_bbox,
                                                 sizes)[:, None]
        return (labels, label_weights, bbox_targets, bbox_weights, pos_inds,
                neg_inds, sampling_result)


@MODELS.register_module()
class SizeWeightedRPNHead(SizeWeightedAnchorHeadMixin, RPNHead):
    """``RPNHead`` whose positive anchors are weighted by the true size of
    their matched droplet (through ``loss_cls`` and ``loss_bbox``
    ``object_weights``)."""


@MODELS.register_module()
class SizeWeightedRetinaHead(SizeWeightedAnchorHeadMixin, RetinaHead):
    """``RetinaHead`` whose positive anchors are weighted by the true size
    of their matched droplet (use ``SizeWeightedFocalLoss`` /
    ``SizeWeightedL1Loss``)."""
