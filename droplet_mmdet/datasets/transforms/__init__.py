from .blur_noise import DropletGaussianBlur, DropletNoise
from .crop_sampling import sample_crop_offset, visible_fraction
from .object_aware_crop import ObjectAwareRandomCrop

__all__ = [
    'ObjectAwareRandomCrop', 'DropletGaussianBlur', 'DropletNoise',
    'sample_crop_offset', 'visible_fraction'
]
