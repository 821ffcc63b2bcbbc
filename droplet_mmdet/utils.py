"""Small helpers shared across the package."""
import numpy as np


def to_numpy(t) -> np.ndarray:
    """A tensor on any device (CPU, CUDA, ...) as a NumPy array.

    The one way this package turns a tensor into NumPy: ``.numpy()`` on a
    GPU tensor raises, so every tensor is detached and brought to the CPU
    first (a no-op for a CPU tensor).
    """
    return t.detach().cpu().numpy()
