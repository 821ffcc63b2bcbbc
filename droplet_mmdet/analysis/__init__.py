from .anchors import STOCK_ANCHORS, best_anchor_iou, coverage, fit_anchors

__all__ = ['STOCK_ANCHORS', 'best_anchor_iou', 'coverage', 'fit_anchors']
