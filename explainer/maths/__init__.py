"""The mathematics of a convolutional layer, in NumPy: convolution and pooling (``conv``, ``pooling``), the
sliding-window walk the steppers draw (``stepper``), output-size formulas (``formulas``), receptive fields
(``receptive``), the kernel bank and typed grids (``kernels``, ``grids``), the X/O network (``xo``), the
pixel-level inspector (``inspector``) and shift invariance (``shift``).

May import: ``explainer.errors``, ``explainer.limits``, ``explainer.i18n`` and modules of ``maths/``.
Lowest first: grids → conv → stepper → pooling → xo → kernels → the rest.
"""
