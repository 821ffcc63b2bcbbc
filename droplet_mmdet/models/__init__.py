from . import heads, losses, task_modules  # noqa: F401
