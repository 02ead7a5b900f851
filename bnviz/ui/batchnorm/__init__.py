"""The BatchNorm page: the session's run, its form and the watch links (``session``), the controls
and status (``controls``), the live part that refreshes (``live_view``), its panels (``panels``)
and charts (``charts``)."""
