"""COCO run-length masks decoded into the boxes they cover.

pycocotools decodes an RLE into a full H x W bitmap: 1 MB per droplet on a
1280 x 800 frame, 1 GB for a frame with 1,000 droplets, almost all zeros.
:func:`decode_rles_to_boxes` decodes all the RLEs of a frame at once, in a
fixed number of numpy calls, straight into each mask's tight box: the work
and the memory follow the droplets' area, not the frame's.

A COCO RLE counts alternating runs of 0s and 1s (0s first) over the
column-major flattening of an H x W mask. Its compressed string form
(pycocotools ``rleToString``) writes each count in 5-bit groups as
characters from 48 on (0x20: more groups follow; 0x10 in the last group:
negative), and each count after the second as its difference to the count
two before.

Shorthand: N masks, G counts of all masks together, R runs of 1s split at
column boundaries. Pure numpy functions, no I/O.
"""
from typing import List, Sequence, Tuple, Union

import numpy as np
from pycocotools import mask as mask_utils

Counts = Union[str, bytes, List[int], np.ndarray]


def _segment_cumsum(x: np.ndarray, seg: np.ndarray) -> np.ndarray:
    """Cumulative sums of ``x`` restarted where the (sorted) segment id
    ``seg`` changes."""
    out = np.cumsum(x)
    if len(x) == 0:
        return out
    start = np.flatnonzero(np.r_[True, seg[1:] != seg[:-1]])
    base = (out - x)[start]
    return out - np.repeat(base, np.diff(np.r_[start, len(x)]))


def parse_counts(counts: Sequence[Counts]) -> Tuple[np.ndarray, np.ndarray]:
    """Run lengths of N RLEs.

    Args:
        counts: each a compressed string (str or bytes, as pycocotools
            writes it) or a list of counts.

    Returns:
        tuple: (G,) int64 run lengths and (G,) int64 mask index of each,
        mask by mask in order.
    """
    chunks, owners, lists = [], [], []
    for k, c in enumerate(counts):
        if isinstance(c, str):
            c = c.encode('ascii')
        if isinstance(c, bytes):
            chunks.append(c)
            owners.append(np.full(len(c), k, np.int64))
        else:
            lists.append((k, np.asarray(c, np.int64).ravel()))
    vals, segs = [], []
    if chunks:
        v = np.frombuffer(b''.join(chunks), np.uint8).astype(np.int64) - 48
        owner = np.concatenate(owners)
        last = np.flatnonzero((v & 0x20) == 0)  # last char of each count
        first = np.r_[0, last[:-1] + 1]
        group = np.repeat(np.arange(len(last)), last - first + 1)
        shift = 5 * (np.arange(len(v)) - first[group])
        x = np.add.reduceat((v & 0x1f) << shift, first) if len(v) else \
            np.zeros(0, np.int64)
        negative = (v[last] & 0x10) != 0
        x[negative] -= np.int64(1) << (shift[last][negative] + 5)
        seg = owner[last]
        m = np.arange(len(x)) - np.searchsorted(seg, seg)  # index in mask
        # c[m] = x[m] + c[m - 2] for m > 2: running sums over the odd and
        # over the even (m >= 2) counts of each mask
        c = x.copy()
        for sel in (m % 2 == 1, (m % 2 == 0) & (m >= 2)):
            c[sel] = _segment_cumsum(x[sel], seg[sel])
        vals.append(c)
        segs.append(seg)
    for k, c in lists:
        vals.append(c)
        segs.append(np.full(len(c), k, np.int64))
    if not vals:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    c, seg = np.concatenate(vals), np.concatenate(segs)
    order = np.argsort(seg, kind='stable')
    return c[order], seg[order]


def decode_rles_to_boxes(counts: Sequence[Counts], height: int,
                         width: int) -> Tuple[np.ndarray, List[np.ndarray]]:
    """Decode N RLEs of one H x W frame into their tight boxes.

    Args:
        counts: the RLEs' ``counts`` (see :func:`parse_counts`).
        height, width: the frame (every RLE's ``size``).

    Returns:
        tuple: ``offsets`` (N, 2) int64, the (x0, y0) of each box, and
        ``bitmaps``, N uint8 arrays (h, w) of the boxes' pixels. An empty
        mask gives offset (0, 0) and a (0, 0) bitmap.

    Raises:
        ValueError: a mask's counts do not cover ``height * width`` pixels
            (the message names its index).
    """
    n = len(counts)
    c, seg = parse_counts(counts)
    ends = _segment_cumsum(c, seg)
    total = np.bincount(seg, weights=c, minlength=n).astype(np.int64)
    bad = np.flatnonzero((total != height * width) |
                         (np.bincount(seg[c < 0], minlength=n) > 0))
    if len(bad):
        raise ValueError(f'RLE {bad[0]} covers {total[bad[0]]} pixels, not '
                         f'{height} x {width}')
    m = np.arange(len(c)) - np.searchsorted(seg, seg)
    ones = (m % 2 == 1) & (c > 0)
    s, e, owner = ends[ones] - c[ones], ends[ones], seg[ones]
    # split the runs at column boundaries: (column, row0, row1) pieces
    col_s, col_e = s // height, (e - 1) // height
    pieces = col_e - col_s + 1
    rep = np.repeat(np.arange(len(s)), pieces)
    col = col_s[rep] + np.arange(len(rep)) - np.repeat(
        np.cumsum(pieces) - pieces, pieces)
    row0 = np.maximum(s[rep], col * height) - col * height
    row1 = np.minimum(e[rep], (col + 1) * height) - col * height
    owner = owner[rep]
    offsets = np.zeros((n, 2), np.int64)
    bitmaps = [np.zeros((0, 0), np.uint8)] * n
    if len(owner) == 0:
        return offsets, bitmaps
    has = np.unique(owner)
    start = np.searchsorted(owner, has)
    x0 = np.minimum.reduceat(col, start)
    x1 = np.maximum.reduceat(col, start) + 1
    y0 = np.minimum.reduceat(row0, start)
    y1 = np.maximum.reduceat(row1, start)
    bh, bw = y1 - y0, x1 - x0
    size = bh * bw
    off = np.cumsum(size) - size
    k = np.searchsorted(has, owner)  # box of each piece
    p = off[k] + (col - x0[k]) * bh[k] + (row0 - y0[k])
    q = p + (row1 - row0)
    buf = np.cumsum(np.bincount(p, minlength=size.sum() + 1) -
                    np.bincount(q, minlength=size.sum() + 1))
    buf = (buf[:-1] > 0).astype(np.uint8)
    offsets[has, 0], offsets[has, 1] = x0, y0
    for j, i in enumerate(has.tolist()):
        bitmaps[i] = buf[off[j]:off[j] + size[j]].reshape(bw[j], bh[j]).T
    return offsets, bitmaps


def segmentation_to_rle(seg, height: int, width: int) -> dict:
    """Any COCO segmentation -> an RLE dict, as mmdet's
    ``LoadAnnotations._poly2mask`` makes before it decodes: polygons
    (a list of ``[x0, y0, x1, y1, ...]``) are rasterised by pycocotools and
    merged, an uncompressed RLE (list counts) compressed, a compressed RLE
    kept."""
    if isinstance(seg, list):
        return mask_utils.merge(mask_utils.frPyObjects(seg, height, width))
    if isinstance(seg['counts'], list):
        return mask_utils.frPyObjects(seg, height, width)
    return seg
