"""``CopyPaste`` whose source droplets come from a bank harvested from a few
labelled frames instead of from a second image of the batch."""
from typing import Any, Dict, Optional, Sequence, Tuple

import numpy as np
from mmcv.transforms.utils import cache_randomness
from mmdet.datasets.transforms import CopyPaste
from mmdet.registry import TRANSFORMS
from mmdet.structures.bbox import HorizontalBoxes, autocast_box_type
from mmdet.structures.mask import BitmapMasks

from droplet_mmdet.datasets.synthetic.cutpaste import paste_droplets
from droplet_mmdet.datasets.synthetic.cutpaste_io import load_bank


@TRANSFORMS.register_module()
class DropletBankCopyPaste(CopyPaste):
    """Paste droplets from a bank of a few labelled frames into each image.

    The bank (``harvest.py``) is built once, from ``ann_file`` and
    ``img_root``, when the transform is made. Each call pastes droplets at
    random places, scales, flips and quarter turns (``paste_droplets``);
    later pastes are in front, every mask is exact.

    Reused from mmdet's ``CopyPaste``: ``_get_selected_inds`` (how many
    and which droplets: a uniform count below ``max_num_pasted``, distinct
    droplets of the bank) and ``_copy_paste`` with ``_get_updated_masks``
    (the image's own objects lose the pasted pixels, their boxes are
    recomputed from the masks, objects hidden past ``bbox_occluded_thr`` /
    ``mask_occluded_thr`` are removed, the pasted ones are appended).

    Not reused, because it does not fit:

    - ``get_indexes`` / ``mix_results``: they need ``MultiImageMixDataset``
      and a second image of the same size, resized and cropped alike; a
      bank droplet goes anywhere, at any scale, in an image of any size.
    - the paste ``img = dst * (1 - m) + src * m``: it takes one source
      image whose objects do not overlap. Bank droplets come from several
      frames, overlap one another (the later in front; one hidden below
      ``min_visible_fraction`` is dropped, as ``CopyPaste`` drops
      destination objects) and are blended (feathered alpha or Poisson),
      so ``paste_droplets`` builds the source image and masks, its image
      replaces the hard paste, and the image's own masks lose the pixels
      of *every* paste, dropped ones included (their pixels still show).

    Required Keys:

    - img (np.uint8, same channels as the bank: 8-bit BGR)
    - gt_bboxes (BaseBoxes[torch.float32])
    - gt_bboxes_labels (np.int64)
    - gt_ignore_flags (bool)
    - gt_masks (BitmapMasks: ``LoadAnnotations(poly2mask=True)``)

    Modified Keys:

    - img
    - gt_bboxes
    - gt_bboxes_labels
    - gt_ignore_flags
    - gt_masks

    Place it before ``RecordDropletSize``: it does not keep
    ``gt_instances_ids`` in step.

    Args:
        ann_file (str): COCO json of the bank's labelled frames.
        img_root (str): folder its ``file_name`` values start in.
        num_source_frames (int): the first N labelled images. Defaults
            to 5.
        image_ids (Sequence, optional): exactly these images instead.
        label (int): class index of pasted droplets. Defaults to 0.
        max_num_pasted (int): pastes per image are drawn in
            ``[0, min(bank size + 1, max_num_pasted))``. Defaults to 100.
        bbox_occluded_thr, mask_occluded_thr (int): ``CopyPaste``'s, for
            the image's objects and for pastes hidden by later pastes.
            Defaults to 10 and 300 (mmdet's; for droplets of ~400 px^2 a
            smaller ``mask_occluded_thr`` is kinder).
        paste_cfg (dict, optional): more arguments of ``paste_droplets``
            (``scale``, ``blend``, ``feather``, ``max_occlusion``,
            ``min_visible_area``, ``min_visible_fraction``, ``flip_rot``).
        harvest_cfg (dict, optional): arguments of ``build_bank``
            (``background``) and ``harvest_frame``.
    """

    def __init__(self, ann_file: str, img_root: str,
                 num_source_frames: Optional[int] = 5,
                 image_ids: Optional[Sequence[Any]] = None, label: int = 0,
                 max_num_pasted: int = 100, bbox_occluded_thr: int = 10,
                 mask_occluded_thr: int = 300,
                 paste_cfg: Optional[Dict[str, Any]] = None,
                 harvest_cfg: Optional[Dict[str, Any]] = None) -> None:
        super().__init__(max_num_pasted=max_num_pasted,
                         bbox_occluded_thr=bbox_occluded_thr,
                         mask_occluded_thr=mask_occluded_thr, selected=True,
                         paste_by_box=False)
        self.ann_file, self.img_root = ann_file, img_root
        self.label = label
        self.paste_cfg = dict(paste_cfg or {})
        self.bank, self.bank_info = load_bank(
            ann_file, img_root,
            None if image_ids is not None else num_source_frames, image_ids,
            **(harvest_cfg or {}))
        self._cover: Optional[np.ndarray] = None

    @cache_randomness
    def _paste_seed(self) -> int:
        return int(np.random.randint(2**31))

    @autocast_box_type()
    def transform(self, results: dict) -> dict:
        masks = results.get('gt_masks', None)
        if masks is not None and not isinstance(masks, BitmapMasks):
            raise TypeError(
                f'{type(self).__name__} needs BitmapMasks, got '
                f'{type(masks).__name__}: load with '
                'LoadAnnotations(with_mask=True, poly2mask=True)')
        inds = self._get_selected_inds(len(self.bank.patches))
        if not len(inds):
            return results
        img = results['img']
        image, pasted, _ = paste_droplets(
            img, self.bank, inds, np.random.default_rng(self._paste_seed()),
            bbox_occluded_thr=self.bbox_occluded_thr,
            mask_occluded_thr=self.mask_occluded_thr, **self.paste_cfg)
        kept = [p for p in pasted if p.kept]
        if not kept:  # nothing to label: leave the image as it was
            return results
        H, W = img.shape[:2]
        src_masks = np.zeros((len(kept), H, W), np.uint8)
        cover = np.zeros((H, W), bool)
        for p in pasted:
            dst, src = _frame_slices(p.x0, p.y0, p.full_mask.shape, H, W)
            cover[dst] |= p.full_mask[src]
        for i, p in enumerate(kept):
            dst, src = _frame_slices(p.x0, p.y0, p.mask.shape, H, W)
            src_masks[i][dst] = p.mask[src]
        src_masks = BitmapMasks(src_masks, H, W)
        src = dict(img=image,
                   gt_bboxes=src_masks.get_bboxes(HorizontalBoxes),
                   gt_bboxes_labels=np.full(len(kept), self.label, np.int64),
                   gt_masks=src_masks,
                   gt_ignore_flags=np.zeros(len(kept), bool))
        self._cover = cover
        try:
            results = self._copy_paste(results, src)
        finally:
            self._cover = None
        results['img'] = image
        return results

    def _get_updated_masks(self, masks: BitmapMasks,
                           composed_mask: np.ndarray) -> BitmapMasks:
        """The image's masks lose every pasted pixel (``CopyPaste`` passes
        the union of the kept pastes only)."""
        cover = composed_mask if self._cover is None else \
            (composed_mask > 0) | self._cover
        return super()._get_updated_masks(masks, cover)

    def __repr__(self) -> str:
        return (f'{type(self).__name__}(ann_file={self.ann_file!r}, '
                f'img_root={self.img_root!r}, '
                f'sources={self.bank_info["sources"]}, '
                f'bank={len(self.bank.patches)} droplets, '
                f'label={self.label}, max_num_pasted={self.max_num_pasted}, '
                f'bbox_occluded_thr={self.bbox_occluded_thr}, '
                f'mask_occluded_thr={self.mask_occluded_thr}, '
                f'paste_cfg={self.paste_cfg})')


def _frame_slices(x0: int, y0: int, shape: Tuple[int, int], height: int,
                  width: int) -> Tuple[tuple, tuple]:
    """``(frame, patch)`` slices of the part of an (h, w) patch at
    ``(x0, y0)`` that lies inside an H x W frame."""
    h, w = shape
    fy0, fx0 = max(y0, 0), max(x0, 0)
    fy1, fx1 = min(y0 + h, height), min(x0 + w, width)
    return ((slice(fy0, fy1), slice(fx0, fx1)),
            (slice(fy0 - y0, fy1 - y0), slice(fx0 - x0, fx1 - x0)))
