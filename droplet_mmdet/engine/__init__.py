from .count_threshold import (COUNT_THR_FILE, CountThresholdHook,
                              load_count_threshold)

__all__ = ['CountThresholdHook', 'load_count_threshold', 'COUNT_THR_FILE']
