"""bnviz core: the mathematics behind the pages (numpy / torch, never Streamlit)."""
