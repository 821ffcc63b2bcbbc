"""Pictures a person looks at: mask outlines on frames, and frame grids."""
import json
import os.path as osp
from typing import List, Optional, Sequence, Tuple

import cv2
import numpy as np
from pycocotools import mask as mask_utils

from droplet_mmdet.evaluation.coco_utils import ann_to_rle


def draw_outlines(image: np.ndarray, masks: Sequence[np.ndarray],
                  color: Tuple[int, int, int] = (0, 255, 0),
                  thickness: int = 1) -> np.ndarray:
    """Draw each (H, W) bool mask's outline on a copy of a BGR/gray image."""
    out = image.copy()
    if out.ndim == 2:
        out = cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)
    for m in masks:
        contours, _ = cv2.findContours(
            np.ascontiguousarray(m, dtype=np.uint8), cv2.RETR_EXTERNAL,
            cv2.CHAIN_APPROX_NONE)
        cv2.drawContours(out, contours, -1, color, thickness)
    return out


def draw_detections(image: np.ndarray, dets: Sequence,
                    color: Tuple[int, int, int] = (0, 255, 0),
                    thickness: int = 1) -> np.ndarray:
    """Outlines of box-sized detections (anything with ``box`` and ``mask``,
    e.g. :class:`~droplet_mmdet.apis.slicing.Detection`) on a BGR copy of
    ``image``, without building a full-frame mask per detection."""
    out = image.copy() if image.ndim == 3 else cv2.cvtColor(
        image, cv2.COLOR_GRAY2BGR)
    for d in dets:
        contours, _ = cv2.findContours(
            np.ascontiguousarray(d.mask, dtype=np.uint8), cv2.RETR_EXTERNAL,
            cv2.CHAIN_APPROX_NONE, offset=(int(d.box[0]), int(d.box[1])))
        cv2.drawContours(out, contours, -1, color, thickness)
    return out


def tile_images(images: List[np.ndarray], cols: int = 4,
                cell: int = 384) -> np.ndarray:
    """Resize BGR images to ``cell`` px squares and tile them in a grid."""
    rows = (len(images) + cols - 1) // cols
    grid = np.full((rows * cell, cols * cell, 3), 255, np.uint8)
    for k, img in enumerate(images):
        r, c = divmod(k, cols)
        grid[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell] = cv2.resize(
            img, (cell, cell), interpolation=cv2.INTER_AREA)
    return grid


def draw_gallery(img_dir: str, ann_file: str, out_file: str,
                 max_images: int = 16, cols: int = 4,
                 cell: int = 384) -> Optional[str]:
    """A grid of a COCO dataset's frames with ground-truth mask outlines.

    Returns:
        str | None: ``out_file``, or None if the dataset has no images.
    """
    with open(ann_file) as f:
        coco = json.load(f)
    by_image = {}
    for ann in coco['annotations']:
        by_image.setdefault(ann['image_id'], []).append(ann)
    tiles = []
    for info in coco['images'][:max_images]:
        path = osp.join(img_dir, info['file_name'])
        img = cv2.imread(path, cv2.IMREAD_COLOR)
        if img is None:
            raise FileNotFoundError(f'{path}: missing or unreadable image')
        h, w = img.shape[:2]
        masks = []
        for ann in by_image.get(info['id'], []):
            masks.append(mask_utils.decode(ann_to_rle(ann, h, w)))
        tiles.append(draw_outlines(img, masks))
    if not tiles:
        return None
    cv2.imwrite(out_file, tile_images(tiles, cols, cell))
    return out_file
