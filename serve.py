"""The server's entry point: the app (app.py) with the route its live pages fetch their feed on
(bnviz/server/feed_route.py). ``streamlit run serve.py`` (scripts/app.sh) serves it; ``streamlit
run app.py`` serves the same pages, which then refresh by running their fragment each time."""

import streamlit as st
from streamlit import config

from bnviz.server import feed_route, live_feed, memory

live_feed.SERVED = True
memory.keep_trimmed()  # what a class's page runs freed goes back to the system within 30 s
app = st.App("app.py", routes=feed_route.routes(config.get_option("server.baseUrlPath") or ""))
