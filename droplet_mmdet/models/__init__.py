from . import heads, losses  # noqa: F401
