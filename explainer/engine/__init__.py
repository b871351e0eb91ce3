"""Long work off the web process, on Dask. From the bottom up: ``jobcluster`` (the local cluster's process and the
names every process of a cluster shares), ``worker`` (the worker entry: the set-up plugin, the data sets a worker
keeps), ``core`` (the engine: client, restarts, queue, fair share, claims), ``protocol`` (the job base class, the
link between a job's page and its worker, the one wrapper every worker task runs, the typed ``Ended``), ``jobs``
(the job kinds, one class each) — each imports only those before it — and ``runstore`` (the kept trainings),
beside them, with the database layer (``db``: SQLAlchemy Core over SQLite or PostgreSQL, schema migrations)
that polls use and the run store will.

May import: everything below it (base, ``maths/``, ``data/``, ``learning/``); nothing imports ``engine/``
except the app's ``ui/`` and the command-line tools. Dask only inside functions, except in ``worker`` (loaded by
the engine when it connects).
"""
