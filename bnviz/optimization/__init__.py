"""Optimizers on 2-D loss surfaces, in the course's form (the optimizer page).

- :mod:`~bnviz.optimization.surfaces` — the built-in surfaces with exact gradients;
- :mod:`~bnviz.optimization.typed_surfaces` — a surface from a formula the user types;
- :mod:`~bnviz.optimization.optimizers` — one class per optimizer: update, defaults, LaTeX, the
  ``torch.optim`` equivalent (adding an optimizer starts here);
- :mod:`~bnviz.optimization.schedules` — learning-rate decay and mini-batch noise;
- :mod:`~bnviz.optimization.descent` — running them: one path, a batch of paths, the same run
  with ``torch.optim``, and what the page's table says of a path;
- :mod:`~bnviz.optimization.path_frames` — presets and the tables the page draws.
"""
