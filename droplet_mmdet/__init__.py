"""droplet_mmdet: MMDetection 3 modules for small, dense droplets.

``import droplet_mmdet`` (or ``custom_imports=dict(imports=['droplet_mmdet'])``
in any mmdet config) applies the stack fixes in :mod:`droplet_mmdet.compat`
and registers every module of ours into mmdet's own registries.
"""
from . import compat

compat.apply()

from . import (datasets, engine, evaluation, models,  # noqa: E402,F401
               structures)

__version__ = '0.1.0'
