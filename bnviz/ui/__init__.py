"""The UI layer: the only part of bnviz that imports streamlit / altair."""
