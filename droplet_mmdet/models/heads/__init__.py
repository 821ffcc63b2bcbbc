from .size_weighted_heads import (SizeWeightedFCNMaskHead, SizeWeightedRoIHead,
                                  SizeWeightedRPNHead,
                                  SizeWeightedShared2FCBBoxHead,
                                  matched_sizes)

__all__ = [
    'SizeWeightedRPNHead', 'SizeWeightedRoIHead',
    'SizeWeightedShared2FCBBoxHead', 'SizeWeightedFCNMaskHead',
    'matched_sizes'
]
