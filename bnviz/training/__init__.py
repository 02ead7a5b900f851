"""Training LeNet and LeNet-BN side by side: the public entry of the BatchNorm page's engine.

The engine is split by concern; this module gathers what pages, tests and benchmarks use:

- :mod:`bnviz.training.config` — :class:`TrainConfig`, the option sets, devices;
- :mod:`bnviz.batchnorm.evaluation` — forward with capture, accuracy, test-time BatchNorm;
- :mod:`bnviz.training.lockstep` — the synchronous trainer: both models, their optimizers, one step;
- :mod:`bnviz.training.history` — captures, the recorded history and immutable snapshots;
- :mod:`bnviz.training.job` — the background thread and its controls; :mod:`bnviz.training.manager` — the cap.
"""

from bnviz.batchnorm.evaluation import LATEX, accuracy, as_input, forward, test_time_accuracy
from bnviz.batchnorm.models import HIDDEN_LAYERS, LABELS, MODELS, WEIGHTED, WIDTHS
from bnviz.training.captures import BN_FIELDS, KINDS, Capture
from bnviz.training.config import (
    DEVICES,
    OPTIMIZERS,
    ConfigError,
    TrainConfig,
    available_devices,
    device_info,
    pick_device,
)
from bnviz.training.history import ACTIVE, DIVERGED_LOSS, ENDED, STATES, Snapshot
from bnviz.training.job import Job
from bnviz.training.lockstep import Lockstep, build_model, make_optimizer, train_step
from bnviz.training.manager import MANAGER, JobManager, JobRefused, default_cap

__all__ = [
    "ACTIVE", "BN_FIELDS", "DEVICES", "DIVERGED_LOSS", "ENDED", "KINDS", "LABELS", "LATEX", "HIDDEN_LAYERS",
    "MANAGER", "MODELS", "OPTIMIZERS", "STATES", "WEIGHTED", "WIDTHS", "Capture", "ConfigError",
    "Job", "JobManager", "JobRefused", "Lockstep", "Snapshot", "TrainConfig", "accuracy",
    "as_input", "available_devices", "build_model", "default_cap", "device_info", "forward",
    "make_optimizer", "pick_device", "test_time_accuracy", "train_step",
]
