"""The tuning page: its controls and cached scores (``controls``), the search charts (``charts``),
the parts of the page (``sections``) and the learning-rate sweep trained for real (``sweep_panel``)."""
