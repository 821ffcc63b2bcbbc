from .anchors import (STOCK_ANCHORS, best_anchor_iou, coverage, fit_anchors,
                      load_coco_boxes)

__all__ = [
    'STOCK_ANCHORS', 'best_anchor_iou', 'coverage', 'fit_anchors',
    'load_coco_boxes'
]
