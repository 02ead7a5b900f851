"""The optimizer page: the sidebar, the start point and the live panel (``controls``), the surface,
loss and rate charts (``charts``), the parts of the page (``sections``)."""
