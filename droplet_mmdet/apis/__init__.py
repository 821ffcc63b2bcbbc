from .runner import (build_runner, fill_fitted_anchors, load_config,
                     setup_test_cfg, setup_train_cfg)
from .track import (DropletKalmanFilter, DropletTracker, track_detections,
                    track_video, tracker_config)
from .track_analysis import (detect_events, generation_frequency,
                             track_summaries, velocity_profile)
from .track_eval import mot_metrics, truth_ids

__all__ = [
    'setup_train_cfg', 'setup_test_cfg', 'build_runner', 'load_config',
    'fill_fitted_anchors', 'DropletKalmanFilter',
    'DropletTracker', 'tracker_config', 'track_video', 'track_detections',
    'track_summaries', 'generation_frequency', 'detect_events',
    'velocity_profile', 'mot_metrics', 'truth_ids'
]
