"""Long work off the web process, on Dask. From the bottom up: ``jobcluster`` (the local cluster's process and the
names every process of a cluster shares), ``worker`` (the worker entry: the set-up plugin, the data sets a worker
keeps), ``core`` (the engine: client, restarts, queue, fair share, claims), ``protocol`` (the job base class, the
link between a job's page and its worker, the one wrapper every worker task runs, the typed ``Ended``), ``jobs``
(the job kinds, one class each) — each imports only those before it — and, beside them, the database layer
(``db``: SQLAlchemy Core over SQLite or PostgreSQL, schema migrations) and ``runstore`` (the kept trainings, in
that database, as class polls are; ``jobs`` reads only its folder, for a training's checkpoints).

May import: everything below it (base, ``maths/``, ``data/``, ``learning/``); nothing imports ``engine/``
except ``explainer.polls`` (the layer above: it keeps polls with ``db``), the app's ``ui/`` and the
command-line tools. Dask only inside functions, except in ``worker`` (loaded by
the engine when it connects).
"""
