from .labelme import (LabelmeConversion, coco_summary, convert_labelme_folder,
                      find_image, labelme_files, labelme_to_coco,
                      prepare_labelme_split, prepare_zerog_bubbles,
                      shape_to_polygon, split_by_pattern, write_coco)

__all__ = [
    'LabelmeConversion', 'coco_summary', 'convert_labelme_folder',
    'find_image', 'labelme_files', 'labelme_to_coco', 'prepare_labelme_split',
    'prepare_zerog_bubbles', 'shape_to_polygon', 'split_by_pattern',
    'write_coco'
]
