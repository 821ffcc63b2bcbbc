from .bank_copy_paste import DropletBankCopyPaste
from .blur_noise import DropletGaussianBlur, DropletNoise
from .crop_sampling import sample_crop_offset, visible_fraction
from .droplet_size import (PackDropletInputs, RecordDropletSize,
                           droplet_sizes)
from .loading import LoadDropletAnnotations
from .object_aware_crop import ObjectAwareRandomCrop

__all__ = [
    'ObjectAwareRandomCrop', 'DropletGaussianBlur', 'DropletNoise',
    'sample_crop_offset', 'visible_fraction', 'RecordDropletSize',
    'PackDropletInputs', 'droplet_sizes', 'LoadDropletAnnotations',
    'DropletBankCopyPaste'
]
