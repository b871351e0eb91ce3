"""How a network learns, in PyTorch with a readable NumPy core beside it: the optimizer registry and update
rules (``optimizers``, ``optim_rules``), loss surfaces and races (``optim``), the models (``models``), the
training loop, checkpoints and the exported script (``train``), backpropagation by hand (``backprop``),
evaluation (``evaluation``; on shifted pictures: ``shift``), the trained network's insides (``network``) and a kept run, the record of a finished
training that the pages and the run store share (``runs``).

May import: the base, ``maths/``, ``data/`` and modules of ``learning/``; never ``engine/`` or ``figures/``.
"""
