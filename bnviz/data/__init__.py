"""The data the pages use, read offline and checked.

- :mod:`~bnviz.data.fashion_mnist` — Fashion-MNIST's four IDX files (Debian's package, a cache,
  ``$BNVIZ_DATA``), verified; a small synthetic set when none is there;
- :mod:`~bnviz.data.series` — series for the EWMA page: Seattle's temperatures, synthetic
  series, numbers the user pastes;
- :mod:`~bnviz.data.tables` — files the user uploads: encoding, separator, number format, dates.
"""
