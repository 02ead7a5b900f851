"""The EWMA page: its data and live controls (``controls``), its charts (``charts``) and the
sections below them (``sections``)."""
