from .size_weighted_heads import (SizeWeightedFCNMaskHead,
                                  SizeWeightedRPNHead,
                                  SizeWeightedShared2FCBBoxHead)

__all__ = [
    'SizeWeightedRPNHead', 'SizeWeightedShared2FCBBoxHead',
    'SizeWeightedFCNMaskHead'
]
