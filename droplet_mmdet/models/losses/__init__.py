from .focal_loss import (SizeWeightedFocalLoss, SizeWeightedL1Loss,
                         SizeWeightMixin)
from .mask_loss import SizeWeightedMaskLoss, weighted_mask_bce
from .size_weight import box_sizes, size_weights

__all__ = [
    'SizeWeightedFocalLoss', 'SizeWeightedL1Loss', 'SizeWeightMixin',
    'SizeWeightedMaskLoss', 'weighted_mask_bce', 'box_sizes', 'size_weights'
]
