"""Training LeNet and LeNet-BN side by side: the public entry of the BatchNorm page's engine.

The engine is split by concern; this module gathers what pages, tests and benchmarks use:

- :mod:`bnviz.run_config` — :class:`TrainConfig`, the option sets, devices;
- :mod:`bnviz.evaluation` — forward with capture, accuracy, test-time BatchNorm;
- :mod:`bnviz.lockstep` — the synchronous trainer: both models, their optimizers, one step;
- :mod:`bnviz.history` — captures, the recorded history and immutable snapshots;
- :mod:`bnviz.jobs` — the background thread and its controls; :mod:`bnviz.job_manager` — the cap.
"""

from .evaluation import LATEX, accuracy, as_input, forward, test_time_accuracy
from .history import (ACTIVE, BN_FIELDS, DIVERGED_LOSS, ENDED, KINDS, STATES, Capture,
                      Snapshot)
from .job_manager import MANAGER, JobManager, JobRefused, default_cap
from .jobs import Job
from .lockstep import Lockstep, build_model, make_optimizer, train_step
from .models import HIDDEN as LAYERS
from .models import LABELS, MODELS, WEIGHTED, WIDTHS
from .run_config import (DEVICES, OPTIMIZERS, ConfigError, TrainConfig, available_devices,
                         device_info, pick_device)

__all__ = [
    "ACTIVE", "BN_FIELDS", "DEVICES", "DIVERGED_LOSS", "ENDED", "KINDS", "LABELS", "LATEX", "LAYERS",
    "MANAGER", "MODELS", "OPTIMIZERS", "STATES", "WEIGHTED", "WIDTHS", "Capture", "ConfigError",
    "Job", "JobManager", "JobRefused", "Lockstep", "Snapshot", "TrainConfig", "accuracy",
    "as_input", "available_devices", "build_model", "default_cap", "device_info", "forward",
    "make_optimizer", "pick_device", "test_time_accuracy", "train_step",
]
