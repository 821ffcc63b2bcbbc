# adamw_600it.py shortened to 400 iterations (the demo's CPU budget): same
# optimiser, warm-up and a step at 80 %.
_base_ = './adamw_600it.py'
max_iters = 400
train_cfg = dict(max_iters=max_iters, val_interval=max_iters)
param_scheduler = [
    _base_.param_scheduler[0],  # warm-up
    dict(_base_.param_scheduler[1], end=max_iters,
         milestones=[int(max_iters * 0.8)]),
]
