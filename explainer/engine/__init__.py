"""Long work off the web process: the Dask job engine and its job kinds (``jobs``), the code its workers run
(``jobworker``), the local cluster (``jobcluster``) and the run store of kept trainings (``runstore``)
and the database layer (``db``: SQLAlchemy Core over SQLite or PostgreSQL, schema migrations).

May import: everything below it (base, ``maths/``, ``data/``, ``learning/``); nothing imports ``engine/``
except the app's ``ui/`` and the command-line tools.
"""
