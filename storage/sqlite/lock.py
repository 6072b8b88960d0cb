"""The SQLite file belongs to one process: a lock file next to it, held while the store is open.

`flock` on `<database>.lock` (not on the database itself: SQLite's own POSIX locks are dropped
when any descriptor of the file is closed). The kernel releases it when the process dies, even
by kill -9, so a held lock proves its owner is alive, and a free one that it is gone.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from storage.errors import StoreLocked


def lock_path(database: Path) -> Path:
    """Where the lock of `database` lives."""
    return database.with_name(database.name + ".lock")


class FileLock:
    """An exclusive lock on a SQLite database for the life of one store."""

    def __init__(self, database: Path, descriptor: int) -> None:
        self.database = database
        self._descriptor: int | None = descriptor

    @classmethod
    def acquire(cls, database: Path) -> FileLock:
        """Take the lock, or raise `StoreLocked` when another store (in any process) has it."""
        database.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(lock_path(database), os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise StoreLocked(database.resolve()) from None
        except BaseException:
            os.close(descriptor)
            raise
        # Who holds it, for a person looking at the file.
        os.ftruncate(descriptor, 0)
        os.write(descriptor, f"{os.getpid()}\n".encode())
        return cls(database, descriptor)

    def release(self) -> None:
        """Give the lock up (closing the descriptor releases it)."""
        if self._descriptor is not None:
            with contextlib.suppress(OSError):
                os.close(self._descriptor)
            self._descriptor = None
