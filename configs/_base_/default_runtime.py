# mmdet's runtime, iteration-based logging, and our modules loaded from any
# working directory.
_base_ = 'mmdet::_base_/default_runtime.py'

custom_imports = dict(imports=['droplet_mmdet'], allow_failed_imports=False)

default_hooks = dict(
    # iteration-based: validation metrics are logged at their iteration
    # (mmengine's default logs them at "epoch" 0), so learning curves read
    # back from scalars.json
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    checkpoint=dict(
        type='CheckpointHook', by_epoch=False, interval=200, max_keep_ckpts=2))
log_processor = dict(type='LogProcessor', window_size=20, by_epoch=False)
randomness = dict(seed=0)
# after each validation: the score threshold that best matches the true
# counts -> <work_dir>/count_threshold.json, used by tools/infer.py
custom_hooks = [dict(type='CountThresholdHook')]
