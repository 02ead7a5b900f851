"""Batch normalisation itself (the BatchNorm page's subject, without the engine that trains it).

- :mod:`~bnviz.batchnorm.scratch` — BatchNorm written out, beside ``nn.BatchNorm1d/2d``;
- :mod:`~bnviz.batchnorm.models` — LeNet as in d2l, with or without BatchNorm;
- :mod:`~bnviz.batchnorm.evaluation` — forward passes that look inside, accuracy, test-time BN;
- :mod:`~bnviz.batchnorm.population` — the exact statistics over the training set;
- :mod:`~bnviz.batchnorm.by_hand` — one batch through one BN channel, number by number;
- :mod:`~bnviz.batchnorm.probe` — Santurkar et al.'s smoothness probe along the update.
"""
