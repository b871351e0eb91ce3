"""Convolution Explainer: the library behind the app (NumPy/SciPy/PyTorch, no Streamlit).

Organised by concern; imports only go down this list (``tests/test_layers.py`` checks it):

- ``errors``, ``limits``, ``i18n``: the base every other module may import;
- ``maths/``: convolution, pooling, the sliding-window walk, receptive fields, formulas, kernels, X/O;
- ``data/``: MNIST and the other data sets, images, drawings, a learner's own images;
- ``learning/``: optimizers and loss surfaces, models, training, backprop, the network's insides;
- ``figures/``: Plotly figures of the above (maths and data; never learning or engine);
- ``engine/``: the Dask job engine, its job kinds and workers, the run store, the database layer (``engine.db``);
- ``questions``: the predict-then-reveal questions, computed with all of the above;
- ``polls``: class polls of those questions, kept in the database of ``engine.db``.

    from explainer.maths.conv import conv2d
"""
