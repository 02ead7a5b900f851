"""Training LeNet and LeNet-BN side by side: the public entry of the BatchNorm page's engine.

The engine is split by concern; this module gathers what pages, tests and benchmarks use:

- :mod:`bnviz.training.config` — :class:`TrainConfig`, the option sets, devices;
- :mod:`bnviz.batchnorm.evaluation` — forward with capture, accuracy, test-time BatchNorm;
- :mod:`bnviz.training.lockstep` — the synchronous trainer: both models, their optimizers, one step;
- :mod:`bnviz.training.history` — captures, the recorded history and immutable snapshots;
- :mod:`bnviz.training.job` — the background thread and its controls; :mod:`bnviz.training.manager` — the cap.
"""

import importlib

# Each name and the module it comes from, imported on first use (PEP 562): a process that only
# reads or checks a TrainConfig (a run's place on a Ray cluster) never imports torch (3.1 s here,
# ``python -X importtime``).
_FROM = {
    "bnviz.batchnorm.evaluation": ("LATEX", "accuracy", "as_input", "forward", "test_time_accuracy"),
    "bnviz.batchnorm.models": ("HIDDEN_LAYERS", "LABELS", "MODELS", "WEIGHTED", "WIDTHS"),
    "bnviz.training.captures": ("BN_FIELDS", "KINDS", "Capture"),
    "bnviz.training.config": ("DEVICES", "OPTIMIZERS", "ConfigError", "TrainConfig", "available_devices",
                              "device_info", "pick_device"),
    "bnviz.training.history": ("ACTIVE", "DIVERGED_LOSS", "ENDED", "STATES", "Snapshot"),
    "bnviz.training.job": ("Job",),
    "bnviz.training.lockstep": ("Lockstep", "build_model", "make_optimizer", "train_step"),
    "bnviz.training.manager": ("MANAGER", "JobManager", "JobRefused", "default_cap"),
}
_MODULE_OF = {name: module for module, names in _FROM.items() for name in names}


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


__all__ = sorted(_MODULE_OF)
