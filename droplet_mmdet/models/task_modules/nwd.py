"""Normalized Gaussian Wasserstein Distance (NWD) between boxes.

Wang et al. 2021, "A Normalized Gaussian Wasserstein Distance for Tiny
Object Detection" (arXiv:2110.13389; reference code jwwangchn/NWD for
mmdet 2, ``BboxDistanceMetric``, ``mode='wasserstein'``). A box
``(cx, cy, w, h)`` is the Gaussian ``N((cx, cy), diag(w^2 / 4, h^2 / 4))``;
the 2-Wasserstein distance between two such Gaussians is the Euclidean
distance between the vectors ``(cx, cy, w / 2, h / 2)``::

    W2^2 = (cx1 - cx2)^2 + (cy1 - cy2)^2 + ((w1 - w2) / 2)^2
           + ((h1 - h2) / 2)^2
    NWD = exp(-sqrt(W2^2 + eps) / C)

Unlike IoU, NWD falls smoothly with a few pixels of offset and stays above 0
for boxes that do not overlap, so a tiny box still gets anchors close to it
as positives. ``eps`` sits under the root as in the reference code (which
adds it to the centre distance): identical boxes give
``exp(-sqrt(eps) / C)`` (1 - 8e-5 for the defaults, exactly 1 with
``eps=0``) and the gradient stays finite there.

Choosing ``C`` (px): the paper sets it to the average absolute size
``sqrt(w * h)`` of the data set's boxes, 12.8 for AI-TOD. Use the mean
``sqrt(w * h)`` of the training boxes at the input resolution the network
sees (after any resize), e.g. 22.5 for the synthetic droplets and 47.2 for
the bubbles set; ``tools/analysis_tools/fit_anchors.py`` prints it.

Thresholds: only ``C * ln(1 / thr)`` matters (a radius in px), so
thresholds and ``C`` go together. The reference configs keep mmdet's RPN
thresholds (pos 0.7, neg 0.3, min_pos 0.3) with C = 12.8 px; with C = the
mean size of droplets (22.5 px) or bubbles (47 px) those radii span several
anchor strides: 5-150 positives per box and 46-62 % of all anchors ignored
(measured). The thresholds at which a C x C box shifted along one axis has
IoU 0.7 / 0.3 are ``exp(-(1 - t) / (1 + t))`` = 0.84 / 0.58; with those,
anchors near a box of the mean size turn positive / negative at about the
same offsets as with IoU, and smaller boxes keep their positives (IoU's
radii shrink with the box). NWD is not scale invariant:
boxes much larger than ``C`` get more positives.

Use it in mmdet's ``MaxIoUAssigner``::

    assigner=dict(type='MaxIoUAssigner', pos_iou_thr=0.84, neg_iou_thr=0.58,
                  min_pos_iou=0.3, match_low_quality=True,
                  iou_calculator=dict(type='BboxOverlaps2DNWD', mode='nwd',
                                      constant=22.5))
"""
import torch
from mmdet.models.task_modules.assigners.iou2d_calculator import \
    BboxOverlaps2D
from mmdet.registry import TASK_UTILS
from mmdet.structures.bbox import get_box_tensor
from torch import Tensor


def nwd(bboxes1: Tensor,
        bboxes2: Tensor,
        constant: float = 12.8,
        is_aligned: bool = False,
        eps: float = 1e-6) -> Tensor:
    """NWD between ``(..., M, 4)`` and ``(..., N, 4)`` xyxy boxes.

    Same shapes as :func:`mmdet.structures.bbox.bbox_overlaps`:
    ``(..., M, N)``, or ``(..., M)`` with ``is_aligned=True`` (then M == N).
    Either set may be empty.
    """
    assert constant > 0, f'constant must be > 0, got {constant}'
    assert bboxes1.size(-1) == 4 or bboxes1.size(-2) == 0
    assert bboxes2.size(-1) == 4 or bboxes2.size(-2) == 0
    assert bboxes1.shape[:-2] == bboxes2.shape[:-2]
    batch_shape = bboxes1.shape[:-2]
    rows, cols = bboxes1.size(-2), bboxes2.size(-2)
    if is_aligned:
        assert rows == cols
    if rows * cols == 0:
        shape = (rows, ) if is_aligned else (rows, cols)
        return bboxes1.new_zeros(batch_shape + shape)

    def gauss(b):  # (..., K, 4) -> (cx, cy, w / 2, h / 2)
        return ((b[..., 0] + b[..., 2]) / 2, (b[..., 1] + b[..., 3]) / 2,
                (b[..., 2] - b[..., 0]) / 2, (b[..., 3] - b[..., 1]) / 2)

    g1, g2 = gauss(bboxes1), gauss(bboxes2)
    if not is_aligned:
        g1 = [v[..., :, None] for v in g1]
        g2 = [v[..., None, :] for v in g2]
    # one (..., M, N) temporary at a time: RPN assignment on a large frame
    # is ~10^2 GT x 10^5 anchors
    w2 = None
    for a, b in zip(g1, g2):
        sq = (a - b).square()
        w2 = sq if w2 is None else w2.add_(sq)
    return torch.exp(-torch.sqrt(w2 + eps) / constant)


@TASK_UTILS.register_module()
class BboxOverlaps2DNWD(BboxOverlaps2D):
    """mmdet's ``BboxOverlaps2D`` with the NWD as its default metric.

    A drop-in ``iou_calculator`` for ``MaxIoUAssigner`` (which calls it
    without ``mode`` for the GT-anchor overlaps and with ``mode='iof'`` for
    ignored boxes): ``mode=None`` in a call means the ``mode`` given here;
    ``'iou'``, ``'iof'`` and ``'giou'`` are mmdet's ``BboxOverlaps2D``
    (``scale`` and ``dtype`` act on those only).

    Args:
        mode (str): default metric, ``'nwd'`` (or ``'iou'``, ``'iof'``,
            ``'giou'``).
        constant (float): ``C`` in px, the mean ``sqrt(w * h)`` of the data
            set's boxes (12.8 for AI-TOD, the paper's value).
        eps (float): added under the square root (reference: 1e-6).
    """

    MODES = ('nwd', 'iou', 'iof', 'giou')

    def __init__(self,
                 mode: str = 'nwd',
                 constant: float = 12.8,
                 eps: float = 1e-6,
                 scale: float = 1.,
                 dtype=None):
        super().__init__(scale=scale, dtype=dtype)
        assert mode in self.MODES, f'mode {mode!r} not in {self.MODES}'
        assert constant > 0, f'constant must be > 0, got {constant}'
        self.mode = mode
        self.constant = float(constant)
        self.eps = eps

    def __call__(self, bboxes1, bboxes2, mode=None, is_aligned=False):
        """Overlaps of (M, 4|5) and (N, 4|5) boxes (tensors or
        ``BaseBoxes``; a 5th score column is dropped) -> (M, N), or (M,)
        with ``is_aligned``."""
        mode = self.mode if mode is None else mode
        assert mode in self.MODES, f'mode {mode!r} not in {self.MODES}'
        if mode != 'nwd':
            return super().__call__(bboxes1, bboxes2, mode, is_aligned)
        bboxes1 = get_box_tensor(bboxes1)
        bboxes2 = get_box_tensor(bboxes2)
        assert bboxes1.size(-1) in [0, 4, 5]
        assert bboxes2.size(-1) in [0, 4, 5]
        return nwd(bboxes1[..., :4], bboxes2[..., :4], self.constant,
                   is_aligned, self.eps)

    def __repr__(self):
        return (f'{self.__class__.__name__}(mode={self.mode}, '
                f'constant={self.constant}, eps={self.eps}, '
                f'scale={self.scale}, dtype={self.dtype})')
