"""State shared by every session of the server, behind a lock.

Streamlit runs each session's script in its own thread, so a plain dict held by ``st.cache_resource`` is changed
by one session while another's fragment loops over it ("dictionary changed size during iteration"), and two
sessions that both find a key missing both start the work. A ``SharedRegistry`` is that dict made safe:

```python
from ui.registry import shared_registry
jobs = shared_registry("backprop.small_runs")        # one per name and server
job = jobs.get_or_start("cnn", start, keep=lambda j: not (j.done and j.result is None))  # started once
for kind, job in jobs.items():                        # a snapshot: other sessions may add meanwhile
    ...
```
Only what every learner may see goes in (jobs started for everyone, results keyed by content); whose job it is
stays with the job (its owner is the learner who started it).
"""
from __future__ import annotations

import threading
from typing import Callable, Generic, Hashable, TypeVar

import streamlit as st

V = TypeVar("V")


class SharedRegistry(Generic[V]):
    """A small dict for many threads: every read and write under one lock, iteration over a copy, an optional
    cap (``max_entries``: the oldest entries that ``evictable`` allows go first)."""

    def __init__(self, name: str, max_entries: int | None = None,
                 evictable: Callable[[V], bool] = lambda v: True):
        self.name, self.max_entries, self._evictable = name, max_entries, evictable
        self._lock = threading.RLock()
        self._items: dict[Hashable, V] = {}
        self._starting: dict[Hashable, threading.Lock] = {}  # a lock per key being started

    def get(self, key: Hashable, default: V | None = None) -> V | None:
        with self._lock:
            return self._items.get(key, default)

    def put(self, key: Hashable, value: V) -> None:
        with self._lock:
            self._items.pop(key, None)
            self._items[key] = value  # newest last
            self._trim()

    def get_or_start(self, key: Hashable, start: Callable[[], V | None],
                     keep: Callable[[V], bool] = lambda v: True) -> V | None:
        """The entry for ``key`` if there is one that ``keep`` accepts, else ``start()``'s value (kept unless None).
        Sessions asking at once start it once: the others wait for the first and get its value."""
        with self._lock:
            gate = self._starting.setdefault(key, threading.Lock())
        with gate:  # one start per key; the registry's lock is free meanwhile (a start may take seconds)
            with self._lock:
                value = self._items.get(key)
            if value is not None and keep(value):
                return value
            value = start()
            with self._lock:
                if value is not None:
                    self.put(key, value)
                self._starting.pop(key, None) if self._starting.get(key) is gate else None
            return value

    def update(self, key: Hashable, change: Callable[[V | None], V]) -> V:
        """Read, change and write one entry under the lock (no other session's change in between)."""
        with self._lock:
            value = change(self._items.get(key))
            self.put(key, value)
            return value

    def pop(self, key: Hashable, default: V | None = None) -> V | None:
        with self._lock:
            return self._items.pop(key, default)

    def _trim(self) -> None:
        if self.max_entries is None:
            return
        over = len(self._items) - self.max_entries
        for k in [k for k, v in self._items.items() if self._evictable(v)][:max(0, over)]:
            del self._items[k]

    def snapshot(self) -> dict:
        with self._lock:
            return dict(self._items)

    def items(self) -> list[tuple[Hashable, V]]:
        return list(self.snapshot().items())

    def values(self) -> list[V]:
        return list(self.snapshot().values())

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


_CREATE = threading.Lock()


@st.cache_resource(show_spinner=False)
def _server_registries() -> dict:
    """One table of registries per server (``st.cache_resource``: cleared with the app's caches)."""
    return {}


def shared_registry(name: str, max_entries: int | None = None,
                    evictable: Callable[[V], bool] = lambda v: True) -> SharedRegistry:
    """The server's registry called ``name`` (made on first use, with these settings)."""
    table = _server_registries()
    with _CREATE:
        reg = table.get(name)
        if reg is None:
            reg = table[name] = SharedRegistry(name, max_entries, evictable)
        return reg
