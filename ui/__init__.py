"""Streamlit-side helpers shared by the pages (the library, ``explainer/``, stays UI-free)."""
