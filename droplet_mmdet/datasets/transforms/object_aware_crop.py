"""Object-aware random crop for small, dense droplets."""
import warnings
from typing import Optional, Tuple

import numpy as np
from mmcv.transforms.utils import cache_randomness
from mmdet.datasets.transforms import RandomCrop
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import autocast_box_type

from .crop_sampling import sample_crop_offset


@TRANSFORMS.register_module()
class ObjectAwareRandomCrop(RandomCrop):
    """``RandomCrop`` whose window keeps droplets.

    Up to ``max_tries`` uniform offsets are tried; the first window that
    keeps at least ``min_objects`` objects (all of them in an image with
    fewer) whose visible (box) fraction is at least ``min_visible``, and
    whose foreground ratio is inside ``fg_ratio_range`` if given, is the
    crop. Only such crops are guaranteed to keep ``min_objects``.

    **Fallback** when no try succeeds (objects too far apart, a
    foreground bound that no window meets, too few tries): the window is
    centred on one random object, clipped to the image. That keeps this
    object whole when it fits in the crop, but it may keep fewer than
    ``min_objects`` objects and ignores ``fg_ratio_range``. Fallbacks are
    counted in ``counts['centred']`` (beside ``'sampled'`` and ``'empty'``;
    per process, so per dataloader worker) and reported with a
    ``UserWarning`` at the 1st, 10th, 100th, ... fallback of a process.
    An image with no objects gets a single uniform crop (never a loop,
    ``counts['empty']``); it is kept only with ``allow_negative_crop=True``
    (else the dataset draws another image, as with ``RandomCrop``).

    Cut objects follow mmdet's ``RandomCrop``: boxes are clipped, masks
    cropped, boxes recomputed from masks (``recompute_bbox=True`` here).
    Remnants whose visible area is under ``min_visible_area`` px (mask area
    when masks are loaded, else box area) are then dropped from boxes,
    labels, masks and ignore flags together.

    Required Keys:

    - img
    - gt_bboxes (BaseBoxes[torch.float32]) (optional)
    - gt_bboxes_labels (np.int64) (optional)
    - gt_masks (BitmapMasks | PolygonMasks) (optional)
    - gt_ignore_flags (bool) (optional)

    Modified Keys:

    - img
    - img_shape
    - gt_bboxes (optional)
    - gt_bboxes_labels (optional)
    - gt_masks (optional)
    - gt_ignore_flags (optional)

    Args:
        crop_size (tuple): as ``RandomCrop``, (w, h) for ``'absolute'``.
        crop_type (str): ``'absolute'``, ``'absolute_range'``,
            ``'relative'`` or ``'relative_range'``.
        min_objects (int): objects each crop must keep. Defaults to 1.
        min_visible (float): visible fraction that counts as kept.
        fg_ratio_range (tuple, optional): bounds of the box-foreground share
            of the crop.
        max_tries (int): uniform offsets tried before centring.
        min_visible_area (int): smaller remnants are dropped.
    """

    def __init__(self,
                 crop_size: Tuple[float, float],
                 crop_type: str = 'absolute',
                 min_objects: int = 1,
                 min_visible: float = 0.7,
                 fg_ratio_range: Optional[Tuple[float, float]] = None,
                 max_tries: int = 20,
                 min_visible_area: int = 16,
                 allow_negative_crop: bool = False,
                 bbox_clip_border: bool = True,
                 recompute_bbox: bool = True) -> None:
        super().__init__(
            crop_size=crop_size,
            crop_type=crop_type,
            allow_negative_crop=allow_negative_crop,
            bbox_clip_border=bbox_clip_border,
            recompute_bbox=recompute_bbox)
        assert min_objects >= 0 and 0 < min_visible <= 1 and max_tries >= 1
        self.min_objects = min_objects
        self.min_visible = min_visible
        self.fg_ratio_range = fg_ratio_range
        self.max_tries = max_tries
        self.min_visible_area = min_visible_area
        self._boxes = np.zeros((0, 4), np.float32)
        self._image_hw = (0, 0)
        self._img_path = None
        self.counts = dict(sampled=0, centred=0, empty=0)

    @cache_randomness
    def _rand_offset(self, margin: Tuple[int, int]) -> Tuple[int, int]:
        h, w = self._image_hw
        crop_hw = (h - margin[0], w - margin[1])
        oy, ox, how = sample_crop_offset(self._boxes, self._image_hw,
                                         crop_hw, self.min_objects,
                                         self.min_visible,
                                         self.fg_ratio_range, self.max_tries)
        self.counts[how] += 1
        n = self.counts['centred']
        if how == 'centred' and n == 10**(len(str(n)) - 1):  # 1, 10, 100
            rules = f'>= {self.min_objects} objects at >= ' \
                f'{self.min_visible} visible' + (
                    f', foreground ratio in {self.fg_ratio_range}'
                    if self.fg_ratio_range is not None else '')
            warnings.warn(
                f'ObjectAwareRandomCrop: no window of {self.max_tries} '
                f'tries kept {rules} in {self._img_path or "an image"} '
                f'(crop {crop_hw[1]}x{crop_hw[0]}); centred on one object '
                'instead, which may keep fewer objects. Fallbacks so far '
                f'in this process: {n} of {sum(self.counts.values())} '
                'crops.')
        return oy, ox

    def _drop_small_remnants(self, results: dict) -> dict:
        if results.get('gt_bboxes', None) is None or \
                self.min_visible_area <= 0:
            return results
        if results.get('gt_masks', None) is not None:
            areas = np.asarray(results['gt_masks'].areas)
        else:
            areas = results['gt_bboxes'].areas.numpy()
        keep = areas >= self.min_visible_area
        if keep.all():
            return results
        results['gt_bboxes'] = results['gt_bboxes'][keep]
        for key in ('gt_bboxes_labels', 'gt_ignore_flags',
                    'gt_instances_ids'):
            if results.get(key, None) is not None:
                results[key] = results[key][keep]
        if results.get('gt_masks', None) is not None:
            results['gt_masks'] = results['gt_masks'][keep.nonzero()[0]]
        return results

    @autocast_box_type()
    def transform(self, results: dict) -> Optional[dict]:
        image_size = results['img'].shape[:2]
        crop_size = self._get_crop_size(image_size)
        boxes = results.get('gt_bboxes', None)
        self._boxes = np.zeros((0, 4), np.float32) if boxes is None else \
            boxes.numpy().reshape(-1, 4)
        self._image_hw = image_size
        self._img_path = results.get('img_path', None)
        results = self._crop_data(results, crop_size, self.allow_negative_crop)
        if results is None:
            return None
        results = self._drop_small_remnants(results)
        if (not self.allow_negative_crop and
                results.get('gt_bboxes', None) is not None and
                len(results['gt_bboxes']) == 0):
            return None
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(crop_size={self.crop_size}, '
                f'crop_type={self.crop_type}, '
                f'min_objects={self.min_objects}, '
                f'min_visible={self.min_visible}, '
                f'fg_ratio_range={self.fg_ratio_range}, '
                f'max_tries={self.max_tries}, '
                f'min_visible_area={self.min_visible_area}, '
                f'allow_negative_crop={self.allow_negative_crop}, '
                f'bbox_clip_border={self.bbox_clip_border}, '
                f'recompute_bbox={self.recompute_bbox})')
