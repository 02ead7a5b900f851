"""The bare reference for ``python -m bench bn-gil``: a live fragment that shows a progress bar
and nothing else, refreshed every second like a watcher's BatchNorm page. Its server cost per
refresh is Streamlit's own floor, which the app's refresh is compared with.

    streamlit run bench/floor_app.py
"""

import time

import streamlit as st

st.title("floor")


@st.fragment(run_every=1.0)
def live():
    st.progress(0.5, text=f"step {int(time.monotonic()) % 1000}/1000")


live()
