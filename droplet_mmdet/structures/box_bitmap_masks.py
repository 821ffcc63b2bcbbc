"""Instance masks kept as one small bitmap per box.

:class:`BoxBitmapMasks` is a ``BitmapMasks`` whose instances are stored as
their tight box's bitmap and its offset in the frame, instead of one full
H x W bitmap each. A dense 1280 x 800 frame with 1,000 droplets of ~25 px
holds ~0.6 MB instead of 1 GB. The operations of a training pipeline
(indexing, crop, flip, nearest resize/rescale, pad with 0, expand, areas,
boxes, concatenation) work on the small bitmaps and give exactly what
``BitmapMasks`` gives; ``crop_and_resize`` (mask targets) builds full
bitmaps only for the instances it is asked for. Everything else
(``translate``, ``shear``, ``rotate``, other interpolations, ...) goes
through ``masks``, the full (N, H, W) array, built on each access and
read-only: code that writes into ``BitmapMasks.masks`` in place (mmdet's
``RandomErasing``) fails loudly instead of writing into a temporary copy.

Shorthand: N instances, H x W the frame, h x w an instance's box.
"""
from functools import lru_cache
from typing import List, Sequence

import cv2
import numpy as np
import torch
from mmdet.structures.mask import BitmapMasks

EMPTY = np.zeros((0, 0), np.uint8)


@lru_cache(maxsize=64)
def _nearest_map(src: int, dst: int) -> np.ndarray:
    """(dst,) source index of each output pixel of a nearest-neighbour
    resize from ``src`` to ``dst`` px along one axis, as cv2 resizes a
    uint8 mask (read off cv2 itself, one bit of the index at a time)."""
    idx = np.arange(src)
    out = np.zeros(dst, np.int64)
    for bit in range(max(int(src - 1).bit_length(), 1)):
        row = ((idx >> bit) & 1).astype(np.uint8)[None, :]
        got = cv2.resize(row, (dst, 1), interpolation=cv2.INTER_NEAREST)
        out |= got[0].astype(np.int64) << bit
    return out


def _cv2_backend() -> bool:
    from mmcv.image import geometric
    return getattr(geometric, 'imread_backend', 'cv2') == 'cv2'


class BoxBitmapMasks(BitmapMasks):
    """Bitmap masks stored as per-instance box bitmaps.

    Args:
        bitmaps (list[ndarray]): N uint8 arrays (h, w), each inside the
            frame at its offset.
        offsets (ndarray): (N, 2) int, the (x0, y0) of each bitmap.
        height (int): frame height H.
        width (int): frame width W.
    """

    def __init__(self, bitmaps: Sequence[np.ndarray], offsets, height: int,
                 width: int) -> None:
        self.height, self.width = int(height), int(width)
        self.bitmaps: List[np.ndarray] = list(bitmaps)
        self.offsets = np.asarray(offsets, np.int64).reshape(-1, 2)
        if len(self.bitmaps) != len(self.offsets):
            raise ValueError(f'{len(self.bitmaps)} bitmaps but '
                             f'{len(self.offsets)} offsets')
        for (x0, y0), bm in zip(self.offsets, self.bitmaps):
            h, w = bm.shape
            if h and w and (x0 < 0 or y0 < 0 or x0 + w > self.width or
                            y0 + h > self.height):
                raise ValueError(f'a {w} x {h} bitmap at ({x0}, {y0}) is '
                                 f'outside the {self.width} x '
                                 f'{self.height} frame')

    @classmethod
    def from_ndarray(cls, masks: np.ndarray) -> 'BoxBitmapMasks':
        """(N, H, W) full bitmaps -> their tight boxes."""
        masks = np.asarray(masks)
        bitmaps, offsets = [], []
        for m in masks:
            xs = np.flatnonzero(m.any(axis=0))
            ys = np.flatnonzero(m.any(axis=1))
            if len(xs) == 0:
                bitmaps.append(EMPTY)
                offsets.append((0, 0))
                continue
            bitmaps.append(m[ys[0]:ys[-1] + 1, xs[0]:xs[-1] + 1].astype(
                np.uint8))
            offsets.append((xs[0], ys[0]))
        return cls(bitmaps, offsets, *masks.shape[1:])

    # -- full bitmaps ---------------------------------------------------
    def _paste(self, out: np.ndarray, i: int) -> None:
        bm = self.bitmaps[i]
        (x0, y0), (h, w) = self.offsets[i], bm.shape
        out[y0:y0 + h, x0:x0 + w] = bm

    @property
    def masks(self) -> np.ndarray:
        """(N, H, W) uint8 full bitmaps, built on each access, read-only."""
        out = self.to_ndarray()
        out.flags.writeable = False
        return out

    def to_ndarray(self) -> np.ndarray:
        """(N, H, W) uint8 full bitmaps (a new array)."""
        out = np.zeros((len(self), self.height, self.width), np.uint8)
        for i in range(len(self)):
            self._paste(out[i], i)
        return out

    def to_tensor(self, dtype, device) -> torch.Tensor:
        return torch.tensor(self.to_ndarray(), dtype=dtype, device=device)

    def union(self) -> np.ndarray:
        """(H, W) bool: the union of all masks."""
        out = np.zeros((self.height, self.width), bool)
        for i in range(len(self)):
            bm = self.bitmaps[i]
            (x0, y0), (h, w) = self.offsets[i], bm.shape
            out[y0:y0 + h, x0:x0 + w] |= bm.astype(bool)
        return out

    # -- container ------------------------------------------------------
    def __len__(self) -> int:
        return len(self.bitmaps)

    def __getitem__(self, index) -> 'BoxBitmapMasks':
        """Instances by int, slice, int or bool array/list/tensor."""
        if isinstance(index, torch.Tensor):
            index = index.cpu().numpy()
        idx = np.atleast_1d(np.arange(len(self))[index])
        return BoxBitmapMasks([self.bitmaps[i] for i in idx],
                              self.offsets[idx], self.height, self.width)

    def __iter__(self):
        for i in range(len(self)):
            out = np.zeros((self.height, self.width), np.uint8)
            self._paste(out, i)
            yield out

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_masks={len(self)}, '
                f'height={self.height}, width={self.width})')

    @classmethod
    def cat(cls, masks: Sequence['BoxBitmapMasks']) -> 'BoxBitmapMasks':
        if len(masks) == 0:
            raise ValueError('masks should not be an empty list.')
        assert all(isinstance(m, cls) for m in masks)
        shapes = {(m.height, m.width) for m in masks}
        if len(shapes) != 1:
            raise ValueError(f'cannot concatenate masks of frames {shapes}')
        return cls([b for m in masks for b in m.bitmaps],
                   np.concatenate([m.offsets for m in masks]),
                   masks[0].height, masks[0].width)

    @property
    def areas(self) -> np.ndarray:
        """(N,) pixel count of each mask (uint64, as ``BitmapMasks``)."""
        return np.array([int(b.sum()) for b in self.bitmaps], np.uint64)

    def get_bboxes(self, dst_type='hbb'):
        """Tight boxes (x0, y0, x1 + 1, y1 + 1); zeros for empty masks."""
        from mmdet.structures.bbox import HorizontalBoxes, get_box_type
        _, box_type = get_box_type(dst_type)
        if box_type is not HorizontalBoxes:
            return super().get_bboxes(dst_type)
        boxes = np.zeros((len(self), 4), np.float32)
        for i, bm in enumerate(self.bitmaps):
            xs = np.flatnonzero(bm.any(axis=0))
            ys = np.flatnonzero(bm.any(axis=1))
            if len(xs) and len(ys):
                x0, y0 = self.offsets[i]
                boxes[i] = (x0 + xs[0], y0 + ys[0], x0 + xs[-1] + 1,
                            y0 + ys[-1] + 1)
        return HorizontalBoxes(boxes)

    # -- geometry ---------------------------------------------------------
    def crop(self, bbox: np.ndarray) -> 'BoxBitmapMasks':
        """As ``BitmapMasks.crop``: ``bbox`` (x1, y1, x2, y2) clipped to
        the frame, at least 1 x 1."""
        assert isinstance(bbox, np.ndarray) and bbox.ndim == 1
        bbox = bbox.copy()
        bbox[0::2] = np.clip(bbox[0::2], 0, self.width)
        bbox[1::2] = np.clip(bbox[1::2], 0, self.height)
        x1, y1, x2, y2 = (int(v) for v in bbox)
        w, h = max(x2 - x1, 1), max(y2 - y1, 1)
        xe, ye = min(x1 + w, self.width), min(y1 + h, self.height)
        bitmaps, offsets = [], []
        for (x0, y0), bm in zip(self.offsets, self.bitmaps):
            bh, bw = bm.shape
            cx0, cx1 = max(x0, x1), min(x0 + bw, xe)
            cy0, cy1 = max(y0, y1), min(y0 + bh, ye)
            if cx1 <= cx0 or cy1 <= cy0:
                bitmaps.append(EMPTY)
                offsets.append((0, 0))
            else:
                bitmaps.append(bm[cy0 - y0:cy1 - y0, cx0 - x0:cx1 - x0])
                offsets.append((cx0 - x1, cy0 - y1))
        return BoxBitmapMasks(bitmaps, offsets, h, w)

    def flip(self, flip_direction: str = 'horizontal') -> 'BoxBitmapMasks':
        assert flip_direction in ('horizontal', 'vertical', 'diagonal')
        offsets = self.offsets.copy()
        hw = np.array([b.shape for b in self.bitmaps],
                      np.int64).reshape(-1, 2)
        filled = hw.prod(1) > 0
        if flip_direction in ('horizontal', 'diagonal'):
            offsets[filled, 0] = self.width - offsets[filled, 0] - \
                hw[filled, 1]
        if flip_direction in ('vertical', 'diagonal'):
            offsets[filled, 1] = self.height - offsets[filled, 1] - \
                hw[filled, 0]
        axes = dict(horizontal=(1, ), vertical=(0, ), diagonal=(0, 1))
        bitmaps = [np.flip(b, axes[flip_direction]) for b in self.bitmaps]
        return BoxBitmapMasks(bitmaps, offsets, self.height, self.width)

    def pad(self, out_shape, pad_val=0):
        """Pad bottom/right to ``out_shape`` (h, w): only the frame grows
        when ``pad_val`` is 0; else as ``BitmapMasks.pad`` (full)."""
        h, w = out_shape[:2]
        if pad_val == 0 and h >= self.height and w >= self.width:
            return BoxBitmapMasks(self.bitmaps, self.offsets, h, w)
        return super().pad(out_shape, pad_val)

    def expand(self, expanded_h, expanded_w, top, left):
        return BoxBitmapMasks(self.bitmaps, self.offsets + (left, top),
                              expanded_h, expanded_w)

    def _resize_nearest(self, new_h: int, new_w: int) -> 'BoxBitmapMasks':
        xmap = _nearest_map(self.width, new_w)
        ymap = _nearest_map(self.height, new_h)
        bitmaps, offsets = [], []
        for (x0, y0), bm in zip(self.offsets, self.bitmaps):
            bh, bw = bm.shape
            c0, c1 = np.searchsorted(xmap, (x0, x0 + bw))
            r0, r1 = np.searchsorted(ymap, (y0, y0 + bh))
            if not (bh and bw) or c1 <= c0 or r1 <= r0:
                bitmaps.append(EMPTY)
                offsets.append((0, 0))
                continue
            bitmaps.append(bm[np.ix_(ymap[r0:r1] - y0, xmap[c0:c1] - x0)])
            offsets.append((c0, r0))
        return BoxBitmapMasks(bitmaps, offsets, new_h, new_w)

    def rescale(self, scale, interpolation='nearest'):
        """As ``BitmapMasks.rescale``; exact per box for 'nearest'."""
        if interpolation != 'nearest' or not _cv2_backend():
            return super().rescale(scale, interpolation)
        import mmcv
        new_w, new_h = mmcv.rescale_size((self.width, self.height), scale)
        return self._resize_nearest(new_h, new_w)

    def resize(self, out_shape, interpolation='nearest'):
        """As ``BitmapMasks.resize`` to ``out_shape`` (h, w); exact per box
        for 'nearest'."""
        if interpolation != 'nearest' or not _cv2_backend():
            return super().resize(out_shape, interpolation)
        return self._resize_nearest(int(out_shape[0]), int(out_shape[1]))

    def crop_and_resize(self, bboxes, out_shape, inds, device='cpu',
                        interpolation='bilinear', binarize=True):
        """``BitmapMasks.crop_and_resize`` (mask targets), on a few full
        bitmaps instead of one per RoI.

        mmdet RoI-aligns R full H x W bitmaps, one per RoI. RoIAlign reads,
        for RoI r, only the pixels within one pixel of r's box, so the
        instances go onto G canvases (first fit) such that no other
        instance on r's canvas has a pixel near r's box; each RoI is then
        aligned on its instance's canvas and reads exactly the pixels it
        reads in mmdet's (R, H, W) stack, at the same coordinates.

        Args:
            bboxes: (R, 4) RoIs (ndarray or Tensor), xyxy in frame px.
            out_shape: (M, M) target size.
            inds: (R,) instance of each RoI.
        """
        from mmcv.ops import roi_align
        if isinstance(inds, torch.Tensor):
            inds = inds.cpu().numpy()
        inds = np.asarray(inds, np.int64).reshape(-1)
        if len(self) == 0 or len(inds) == 0:
            return BitmapMasks(np.empty((0, *out_shape), np.uint8),
                               *out_shape)
        if isinstance(bboxes, np.ndarray):
            bboxes = torch.from_numpy(bboxes).to(device=device)
        canvases, canvas_of = self._canvases(
            bboxes.detach().cpu().double().numpy(), inds)
        rois = torch.cat([
            torch.from_numpy(canvas_of).to(device=device,
                                           dtype=bboxes.dtype)[:, None],
            bboxes
        ], dim=1).to(device=device)
        canvas_th = torch.from_numpy(canvases).to(device).to(dtype=rois.dtype)
        targets = roi_align(canvas_th[:, None], rois, out_shape, 1.0, 0,
                            'avg', True).squeeze(1)
        targets = (targets >= 0.5) if binarize else targets
        return BitmapMasks(targets.cpu().numpy(), *out_shape)

    def _canvases(self, bboxes: np.ndarray, inds: np.ndarray):
        """Instances ``inds`` onto (G, H, W) canvases; the (R,) canvas of
        each RoI. Two instances share a canvas only when neither has a
        pixel within 2 px of a RoI of the other."""
        uniq, inv = np.unique(inds, return_inverse=True)
        # pixels a RoI reads: (x1 - 0.5, x2 - 0.5) and their neighbours
        read = np.stack([np.floor(bboxes[:, 0]) - 2,
                         np.floor(bboxes[:, 1]) - 2,
                         np.ceil(bboxes[:, 2]) + 2,
                         np.ceil(bboxes[:, 3]) + 2], 1)
        reach = np.full((len(uniq), 4), [np.inf, np.inf, -np.inf, -np.inf])
        np.minimum.at(reach[:, 0], inv, read[:, 0])
        np.minimum.at(reach[:, 1], inv, read[:, 1])
        np.maximum.at(reach[:, 2], inv, read[:, 2])
        np.maximum.at(reach[:, 3], inv, read[:, 3])
        hw = np.array([self.bitmaps[i].shape for i in uniq],
                      np.int64).reshape(-1, 2)
        pix = np.concatenate([self.offsets[uniq],
                              self.offsets[uniq] + hw[:, ::-1]], 1)
        empty = hw.prod(1) == 0

        def meets(a, b):  # boxes (4,) vs (K, 4) intersect
            return (np.minimum(a[2], b[:, 2]) > np.maximum(a[0], b[:, 0])) \
                & (np.minimum(a[3], b[:, 3]) > np.maximum(a[1], b[:, 1]))

        groups: List[List[int]] = []
        group_of = np.zeros(len(uniq), np.int64)
        for u in range(len(uniq)):
            for g, members in enumerate(groups):
                m = np.asarray(members)
                if meets(reach[u], pix[m[~empty[m]]]).any():
                    continue  # u's RoIs would read a member's pixels
                if not empty[u] and meets(pix[u], reach[m]).any():
                    continue  # a member's RoIs would read u's pixels
                break
            else:
                g = len(groups)
                groups.append([])
            groups[g].append(u)
            group_of[u] = g
        canvases = np.zeros((len(groups), self.height, self.width), np.uint8)
        for u, i in enumerate(uniq):
            bm = self.bitmaps[i]
            (x0, y0), (h, w) = self.offsets[i], bm.shape
            view = canvases[group_of[u], y0:y0 + h, x0:x0 + w]
            np.maximum(view, bm, out=view)
        return canvases, group_of[inv]
