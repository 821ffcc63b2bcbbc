from .anchor_heads import (SizeWeightedAnchorHeadMixin, SizeWeightedRetinaHead,
                           SizeWeightedRPNHead)
from .size_weighted_heads import (SizeWeightedCascadeRoIHead,
                                  SizeWeightedFCNMaskHead, SizeWeightedRoIHead,
                                  SizeWeightedShared2FCBBoxHead, mark_fed,
                                  matched_sizes)

__all__ = [
    'SizeWeightedAnchorHeadMixin', 'SizeWeightedRPNHead',
    'SizeWeightedRetinaHead', 'SizeWeightedRoIHead',
    'SizeWeightedCascadeRoIHead', 'SizeWeightedShared2FCBBoxHead',
    'SizeWeightedFCNMaskHead', 'mark_fed', 'matched_sizes'
]
