"""Synthetic microfluidic droplet frames with exact instance masks."""
from .coco import frame_records, generate_dataset, mask_to_rle, write_split
from .render import Droplet, render_frame
from .shapes import Outline
from .spec import FrameSpec
from .video import (TrackedDroplet, VideoSpec, render_video,
                    render_video_frame, simulate)
from .video_io import write_video

__all__ = [
    'FrameSpec', 'Droplet', 'Outline', 'render_frame', 'mask_to_rle',
    'frame_records', 'write_split', 'generate_dataset', 'VideoSpec',
    'TrackedDroplet', 'simulate', 'render_video', 'render_video_frame',
    'write_video'
]
