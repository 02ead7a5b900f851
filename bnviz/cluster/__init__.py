"""Where trainings run: in this server process (the default) or on a Ray cluster that every web
replica of a course reaches (``BNVIZ_ENGINE=ray``).

- :mod:`bnviz.cluster.engine` — which engine, connecting to Ray, the fallback when it is unreachable;
- :mod:`bnviz.cluster.run_actor` — one watchable run held by a Ray actor, on whatever node has room;
- :mod:`bnviz.cluster.remote` — what a replica holds of such a run: the page's job and run, by proxy;
- :mod:`bnviz.cluster.background` — the batched trainings (a sweep, a class's job), one actor each.

Nothing here imports Ray unless the Ray engine is chosen.
"""
