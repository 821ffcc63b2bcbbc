"""Each droplet's true size, carried from loading to the model.

Size weighting (``droplet_mmdet.models.losses.size_weight``) must weigh a
positive by the size of the *droplet* it is matched to, not by what is left
of that droplet after a crop: a 24 px droplet cut to a 4 px sliver by the
crop border is still a 24 px droplet. Two transforms do this:

- :class:`RecordDropletSize`, right after ``LoadAnnotations``, stores each
  instance's equivalent side ``sqrt(w * h)`` and tags every instance with an
  id (``gt_instances_ids``, which mmdet's ``RandomCrop`` and our crops keep
  in step with boxes and masks; a tracking dataset's own ids are used as
  they are).
- :class:`PackDropletInputs` (``PackDetInputs`` plus one field) looks the
  recorded size up by id, scales it by the resizes done since (from
  ``homography_matrix``, which mmdet's Resize/Flip/Crop keep up to date) and
  packs it as ``gt_instances.droplet_sizes`` in input pixels.

A transform between the two that drops instances without keeping
``gt_instances_ids`` in step (mmdet's ``FilterAnnotations``,
``RandomAffine``, ``Mosaic``, ...) makes the ids and boxes disagree in
number; :class:`PackDropletInputs` then raises an error naming the image
instead of guessing. Place :class:`RecordDropletSize` after such
transforms.
"""
from typing import Optional

import numpy as np
import torch
from mmcv.transforms import BaseTransform
from mmdet.datasets.transforms import PackDetInputs
from mmdet.registry import TRANSFORMS

from ...models.losses.size_weight import box_sizes

SIZES = 'gt_droplet_sizes'
SIZE_IDS = 'gt_droplet_size_ids'
SIZE_H = 'droplet_size_homography'


def _linear_scale(h: Optional[np.ndarray]) -> float:
    """Length scale of the linear part of a 3 x 3 homography (1 if None)."""
    if h is None:
        return 1.0
    return float(np.sqrt(abs(np.linalg.det(np.asarray(h)[:2, :2]))))


@TRANSFORMS.register_module()
class RecordDropletSize(BaseTransform):
    """Record every instance's size before crops cut it.

    Put it right after ``LoadAnnotations`` (and after any transform that
    removes instances without keeping ``gt_instances_ids``).

    Required Keys:

    - gt_bboxes (BaseBoxes)
    - gt_instances_ids (np.int32) (optional: added if missing)
    - homography_matrix (np.float32) (optional)

    Added Keys:

    - gt_droplet_sizes (np.float32): ``sqrt(w * h)`` of each box, px
    - gt_droplet_size_ids (np.int64): the instance ids they belong to
    - droplet_size_homography (np.float32): the transform so far
    - gt_instances_ids (np.int32): ``0..N-1`` when the data has none
    """

    def transform(self, results: dict) -> dict:
        boxes = results.get('gt_bboxes', None)
        if boxes is None:
            return results
        sizes = box_sizes(boxes.tensor).numpy().astype(np.float32)
        ids = results.get('gt_instances_ids', None)
        if ids is None:
            ids = np.arange(len(sizes), dtype=np.int32)
            results['gt_instances_ids'] = ids
        elif len(np.unique(ids)) != len(ids) or len(ids) != len(sizes):
            raise ValueError(
                f'{results.get("img_path")}: gt_instances_ids must be one '
                f'unique id per instance ({len(ids)} ids, {len(sizes)} '
                'boxes)')
        results[SIZES] = sizes
        results[SIZE_IDS] = np.asarray(ids, dtype=np.int64)
        h = results.get('homography_matrix', None)
        results[SIZE_H] = np.eye(3, dtype=np.float32) if h is None else \
            np.array(h, dtype=np.float32)
        return results

    def __repr__(self) -> str:
        return f'{self.__class__.__name__}()'


def droplet_sizes(results: dict) -> np.ndarray:
    """Recorded sizes of the instances now in ``results``, in current px.

    Raises:
        ValueError: ids and boxes disagree in number, or an id was not
            recorded (a transform broke the correspondence).
    """
    ids = results.get('gt_instances_ids', None)
    n = len(results['gt_bboxes'])
    where = results.get('img_path', '<image>')
    if ids is None or len(ids) != n:
        raise ValueError(
            f'{where}: {n} boxes but '
            f'{"no" if ids is None else len(ids)} gt_instances_ids after '
            'RecordDropletSize: a transform between RecordDropletSize and '
            'PackDropletInputs removed instances without keeping '
            'gt_instances_ids in step (mmdet RandomCrop and droplet_mmdet '
            'crops do; FilterAnnotations, RandomAffine, Mosaic, ... do '
            'not). Put RecordDropletSize after it.')
    rec_ids = results[SIZE_IDS]
    order = np.argsort(rec_ids, kind='stable')
    pos = np.searchsorted(rec_ids, ids, sorter=order)
    pos = np.clip(pos, 0, max(len(rec_ids) - 1, 0))
    if n and (len(rec_ids) == 0 or
              (rec_ids[order[pos]] != np.asarray(ids)).any()):
        raise ValueError(f'{where}: instance ids not seen by '
                         'RecordDropletSize (instances added after it)')
    scale = _linear_scale(results.get('homography_matrix')) / \
        _linear_scale(results[SIZE_H])
    return (results[SIZES][order[pos]] * scale).astype(np.float32) if n \
        else np.zeros(0, np.float32)


@TRANSFORMS.register_module()
class PackDropletInputs(PackDetInputs):
    """``PackDetInputs`` that also packs ``gt_instances.droplet_sizes``.

    Without :class:`RecordDropletSize` earlier in the pipeline it packs
    exactly what ``PackDetInputs`` packs.

    Required Keys: those of ``PackDetInputs``, plus ``gt_droplet_sizes``,
    ``gt_droplet_size_ids``, ``droplet_size_homography`` and
    ``gt_instances_ids`` when sizes were recorded.

    Added Keys:

    - data_samples.gt_instances.droplet_sizes (Tensor, (N,)): each kept
      instance's recorded size in input px (also in
      ``ignored_instances``).
    """

    def transform(self, results: dict) -> dict:
        packed = super().transform(results)
        if SIZES not in results or 'gt_bboxes' not in results:
            return packed
        sizes = droplet_sizes(results)
        sample = packed['data_samples']
        ignore = results.get('gt_ignore_flags', None)
        if ignore is None:
            sample.gt_instances.droplet_sizes = torch.from_numpy(sizes)
        else:
            ignore = np.asarray(ignore, dtype=bool)
            sample.gt_instances.droplet_sizes = torch.from_numpy(
                sizes[~ignore])
            sample.ignored_instances.droplet_sizes = torch.from_numpy(
                sizes[ignore])
        return packed
