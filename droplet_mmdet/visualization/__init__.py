from .gallery import draw_detections, draw_gallery, draw_outlines, tile_images

__all__ = ['draw_detections', 'draw_gallery', 'draw_outlines', 'tile_images']
