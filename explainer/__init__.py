"""Convolution Explainer: the library behind the app (NumPy/SciPy/PyTorch, no Streamlit).

    from explainer.conv import conv2d
"""
