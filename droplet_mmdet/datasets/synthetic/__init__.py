"""Synthetic microfluidic droplet frames with exact instance masks."""
from .coco import frame_records, generate_dataset, mask_to_rle, write_split
from .render import Droplet, FrameSpec, render_frame

__all__ = [
    'FrameSpec', 'Droplet', 'render_frame', 'mask_to_rle', 'frame_records',
    'write_split', 'generate_dataset'
]
