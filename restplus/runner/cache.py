"""A content-addressed response cache in SQLite: crash-safe resume and free re-analysis.

Key: ``Request.key(adapter.fingerprint())`` — sha256 of the model fingerprint, the ordered parts
(image *hashes*, texts) and the decoding parameters. Anything that can change an output changes
the key, so a cache can be shared across runs and models without mixing them up.

Value: the JSON of ``Response.to_dict()`` (never pickle: the file stays readable and safe to load).

What is cached: only responses **without** ``error``. A failed request (timeout, 5xx after
retries, budget stop) is retried on the next run instead of being frozen into the cache.

Durability: every :meth:`ResponseCache.put` is its own committed transaction in WAL mode, so a
``kill -9`` loses at most the response being written; readers and writers in other processes
can use the file at the same time (``busy_timeout`` makes writers wait for the lock instead of
failing). Each thread gets its own connection (sqlite3 connections must not be shared across
threads); counters are guarded by a lock.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import CacheMismatchError, FileAccessError
from ..records import Response

SCHEMA_VERSION = 1
_CHUNK = 500  # keys per SELECT ... IN (...): under SQLite's host-parameter limit


class ResponseCache:
    """SQLite response cache. ``with ResponseCache(path) as c: c.get(key)``.

    Attributes ``hits``, ``misses`` and ``writes`` count lookups and stores in this process.
    """

    def __init__(self, path: str | Path, *, timeout_s: float = 60.0) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        self.hits = self.misses = self.writes = 0
        with self._db_errors("open"), self._con() as con:
            con.execute("CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, response TEXT NOT NULL, "
                        "created REAL NOT NULL)")
            con.execute("CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL)")
            con.execute("INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (str(SCHEMA_VERSION),))
            found = con.execute("SELECT value FROM meta WHERE name='schema_version'").fetchone()[0]
        if found != str(SCHEMA_VERSION):
            raise CacheMismatchError(f"cache {str(self.path)!r} has schema version {found}, this restplus "
                                     f"writes version {SCHEMA_VERSION}; use a new cache file.")

    @contextlib.contextmanager
    def _db_errors(self, doing: str) -> Iterator[None]:
        """SQLite's own errors (a read-only or damaged file, a full disk) as one error naming the file."""
        try:
            yield
        except sqlite3.DatabaseError as exc:
            msg = str(exc)
            fix = ("make the file and its folder writable, or pass another cache path" if "readonly" in msg
                   or "unable to open" in msg else "free some disk space or pass a cache path elsewhere"
                   if "disk" in msg or "full" in msg else "delete it (answers are then re-requested) or pass "
                   "another cache path")
            raise FileAccessError(f"response cache {str(self.path)!r}: cannot {doing} it ({msg}); {fix}.") from None

    def _con(self) -> sqlite3.Connection:
        con = getattr(self._local, "con", None)
        if con is None:
            con = sqlite3.connect(self.path, timeout=self.timeout_s, isolation_level=None,
                                  check_same_thread=False)  # only so close() may run anywhere
            con.execute("PRAGMA journal_mode=WAL")
            # NORMAL in WAL mode is durable against process crashes (kill -9); only an OS crash
            # or power loss can drop the last transactions, which are then simply re-requested.
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute(f"PRAGMA busy_timeout={int(self.timeout_s * 1000)}")
            self._local.con = con
            with self._lock:
                self._conns.append(con)
        return con

    # ------------------------------------------------------------------ reads
    def get(self, key: str) -> Response | None:
        """The cached response for ``key``, or None (counted as a hit or a miss)."""
        return self.get_many([key]).get(key)

    def get_many(self, keys: Iterable[str]) -> dict[str, Response]:
        """Cached responses for the keys that are present (each key counted once as hit or miss)."""
        keys = list(dict.fromkeys(keys))
        found: dict[str, Response] = {}
        with self._db_errors("read"):
            con = self._con()
            for i in range(0, len(keys), _CHUNK):
                part = keys[i:i + _CHUNK]
                q = f"SELECT key, response FROM responses WHERE key IN ({','.join('?' * len(part))})"
                for k, v in con.execute(q, part):
                    found[k] = Response.from_dict(json.loads(v))
        with self._lock:
            self.hits += len(found)
            self.misses += len(keys) - len(found)
        return found

    def __contains__(self, key: str) -> bool:
        return self._con().execute("SELECT 1 FROM responses WHERE key=?", (key,)).fetchone() is not None

    def __len__(self) -> int:
        return int(self._con().execute("SELECT COUNT(*) FROM responses").fetchone()[0])

    def keys(self) -> list[str]:
        return [k for (k,) in self._con().execute("SELECT key FROM responses ORDER BY key")]

    # ------------------------------------------------------------------ writes
    def put(self, key: str, response: Response) -> bool:
        """Store a successful response (committed at once). Returns False, storing nothing, for an
        error response: errors are retried on the next run, never cached."""
        if response.error is not None:
            return False
        # INSERT OR IGNORE: two processes answering the same request keep the first answer, so a
        # cached response never changes under a reader.
        with self._db_errors("write"):
            self._con().execute("INSERT OR IGNORE INTO responses (key, response, created) VALUES (?, ?, ?)",
                                (key, response.to_json(), time.time()))
        with self._lock:
            self.writes += 1
        return True

    # ------------------------------------------------------------------ lifecycle
    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "writes": self.writes}

    def close(self) -> None:
        """Close every connection this object opened. Safe to call twice."""
        with self._lock:
            conns, self._conns = self._conns, []
        for con in conns:
            con.close()
        self._local = threading.local()

    def __enter__(self) -> "ResponseCache":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"ResponseCache({str(self.path)!r})"
