"""Convolution Explainer: the library behind the app (NumPy/SciPy/PyTorch, no Streamlit).

    from explainer.conv import conv2d
"""
from explainer.receptive import receptive_field  # noqa: F401
