from .coco_utils import (clean_coco, equivalent_diameter, load_json,
                         normalize_file_name)
from .droplet_stats import (calibrate_count_threshold, count_errors,
                            count_report, diameter_stats,
                            held_out_count_errors, match_masks)
from .metrics import DropletMetric

__all__ = [
    'DropletMetric', 'clean_coco', 'load_json', 'normalize_file_name',
    'equivalent_diameter', 'count_errors', 'diameter_stats', 'match_masks',
    'calibrate_count_threshold', 'count_report', 'held_out_count_errors'
]
