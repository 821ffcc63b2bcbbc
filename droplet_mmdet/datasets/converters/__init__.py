from .labelme import labelme_to_coco, shape_to_polygon

__all__ = ['labelme_to_coco', 'shape_to_polygon']
