from .fitted_anchors import FittedAnchorGenerator
from .nwd import BboxOverlaps2DNWD, nwd

__all__ = ['BboxOverlaps2DNWD', 'nwd', 'FittedAnchorGenerator']
