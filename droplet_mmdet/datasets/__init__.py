from . import synthetic, transforms  # noqa: F401
from .droplet_coco import DropletCocoDataset

__all__ = ['DropletCocoDataset']
