"""bnviz core: the mathematics behind the pages (numpy, pandas, torch; never Streamlit).

The packages follow the course, one subject each:

- :mod:`bnviz.smoothing` — exponentially weighted averages (the EWMA page);
- :mod:`bnviz.optimization` — loss surfaces, the optimizers, schedules and noise (the optimizer page);
- :mod:`bnviz.tuning` — searching hyper-parameters on the right scale (the tuning page);
- :mod:`bnviz.batchnorm` — BatchNorm written out, LeNet ± BN, what BN uses at test time, its smoothness;
- :mod:`bnviz.training` — the engine that trains them live: jobs, the cap, watched runs, sweeps;
- :mod:`bnviz.cluster` — where trainings run: in the server's process, or on a Ray cluster;
- :mod:`bnviz.data` — the data: Fashion-MNIST, Seattle's temperatures, the user's own files;
- :mod:`bnviz.server` — what the server process itself needs (memory, parsing from many threads);
- :mod:`bnviz.errors` — the one error shape the core uses for what a user can fix.

Each layer imports only those above it in this list and :mod:`bnviz.data`/:mod:`bnviz.errors`;
:mod:`bnviz.ui` (the only Streamlit code) imports the core, never the other way round.
"""
