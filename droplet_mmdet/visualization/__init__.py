from .gallery import draw_gallery, draw_outlines, tile_images

__all__ = ['draw_gallery', 'draw_outlines', 'tile_images']
