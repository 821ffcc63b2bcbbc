from .droplet_metric import DropletMetric

__all__ = ['DropletMetric']
