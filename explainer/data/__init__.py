"""Where pictures come from: MNIST (``mnist``) and the data-set registry with Fashion-MNIST and a learner's
own images (``datasets``, ``ownimages``), uploaded images (``images``) and drawings (``draw``); also the
reference network's weights (``network_reference.pt``), which ``learning.network`` loads.

May import: ``explainer.errors``, ``explainer.limits``, ``explainer.i18n`` and modules of ``data/``.
"""
