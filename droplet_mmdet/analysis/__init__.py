from .anchors import (STOCK_ANCHORS, best_anchor_iou, coverage, fit_anchors,
                      load_coco_boxes)
from .frames import droplet_look, frame_stats, rank_against

__all__ = [
    'STOCK_ANCHORS', 'best_anchor_iou', 'coverage', 'fit_anchors',
    'load_coco_boxes', 'droplet_look', 'frame_stats', 'rank_against'
]
