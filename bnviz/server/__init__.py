"""What the server process needs to serve a class, apart from any page.

- :mod:`~bnviz.server.memory` — how many malloc arenas glibc keeps (memory that stays flat);
- :mod:`~bnviz.server.pysource` — Python source parsed safely from many threads at once.
"""
