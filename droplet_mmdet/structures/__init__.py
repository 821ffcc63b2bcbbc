from .box_bitmap_masks import BoxBitmapMasks
from .rle import decode_rles_to_boxes, parse_counts, segmentation_to_rle

__all__ = [
    'BoxBitmapMasks', 'decode_rles_to_boxes', 'parse_counts',
    'segmentation_to_rle'
]
