from .runner import build_runner, setup_test_cfg, setup_train_cfg

__all__ = ['setup_train_cfg', 'setup_test_cfg', 'build_runner']
