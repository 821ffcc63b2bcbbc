"""Annotation loading that keeps masks small: one bitmap per box."""
from mmdet.datasets.transforms import LoadAnnotations
from mmdet.registry import TRANSFORMS

from ...structures import (BoxBitmapMasks, decode_rles_to_boxes,
                           segmentation_to_rle)


@TRANSFORMS.register_module()
class LoadDropletAnnotations(LoadAnnotations):
    """``LoadAnnotations`` whose masks are :class:`BoxBitmapMasks`.

    mmdet's ``LoadAnnotations(poly2mask=True)`` decodes every instance to a
    full-frame bitmap: ~1 GB for a 1280 x 800 frame with 1,000 droplets,
    most of it cropped away a step later. Here every mask (polygons,
    uncompressed or compressed RLE, as COCO and our synthetic generator
    write them) is decoded into its box only; crops, flips, nearest
    resizes, padding and packing then work on the box bitmaps and give
    exactly the masks that the stock path gives
    (``tests/test_datasets/test_box_masks.py``). Invalid masks are marked
    ignored as mmdet marks them.

    Required Keys: those of ``LoadAnnotations`` (``ori_shape`` for masks).

    Added Keys:

    - gt_bboxes (BaseBoxes[torch.float32])
    - gt_bboxes_labels (np.int64)
    - gt_masks (BoxBitmapMasks)
    - gt_ignore_flags (bool)

    Args:
        **kwargs: ``LoadAnnotations`` arguments; ``poly2mask`` must stay
            True (for polygons kept as polygons, use ``LoadAnnotations``
            with ``poly2mask=False``).

    Raises:
        ValueError: an RLE whose ``size`` is not the image's (named with
            the image and the instance index).
    """

    def __init__(self, **kwargs) -> None:
        if not kwargs.get('poly2mask', True):
            raise ValueError(
                'LoadDropletAnnotations decodes every mask into its box; '
                'for polygons kept as polygons use LoadAnnotations with '
                'poly2mask=False')
        super().__init__(**kwargs)

    def _load_masks(self, results: dict) -> None:
        h, w = results['ori_shape']
        rles = [segmentation_to_rle(seg, h, w)
                for seg in self._process_masks(results)]
        for k, rle in enumerate(rles):
            if tuple(rle['size']) != (h, w):
                raise ValueError(
                    f'{results.get("img_path", "<image>")}: instance {k} has '
                    f'an RLE of size {list(rle["size"])}, the image is '
                    f'{h} x {w}')
        offsets, bitmaps = decode_rles_to_boxes(
            [rle['counts'] for rle in rles], h, w)
        results['gt_masks'] = BoxBitmapMasks(bitmaps, offsets, h, w)
