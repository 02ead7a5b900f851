"""LeNet's option sets (what :func:`bnviz.batchnorm.models.lenet` accepts), without torch: a
training's settings are checked and sent between processes (a run's place on a Ray cluster) by
processes that never build a model."""

ACTIVATIONS = ("sigmoid", "relu")
BN_POSITIONS = ("before", "after")  # BatchNorm before or after the activation
BN_IMPLS = ("torch", "scratch")  # nn.BatchNorm, or BatchNorm written out (bnviz.batchnorm.scratch)
