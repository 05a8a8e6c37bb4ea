"""Open connections and a heartbeat per worker, in memory the master shares with the workers it forks.

The master creates one table before forking (service/transport/http/gunicorn.conf.py) and claims a slot for each
worker; each worker publishes its own count in its slot (service/transport/http/worker/balancing.py) and reads the
others'. A worker whose heartbeat is stale (hung, or gone) is left out.
"""

from __future__ import annotations

import mmap
import os
import struct
import time

HEARTBEAT_STALE_S = 2.0  # older than this: the worker is hung or gone, leave it out


class ConnectionTable:
    """Open connections and a heartbeat per worker slot, in memory shared by the master and its workers."""

    SLOT = struct.Struct("qqd")  # pid, open connections, heartbeat (time.monotonic, the same clock everywhere)
    HEADER = struct.Struct("q")  # slots in use: the highest claimed slot + 1, so readers scan no further

    def __init__(self, slots: int = 256) -> None:
        self.slots = slots
        # Anonymous and shared: inherited across fork, gone with the last process that maps it.
        self._memory = mmap.mmap(-1, self.HEADER.size + slots * self.SLOT.size)

    def _offset(self, slot: int) -> int:
        return self.HEADER.size + slot * self.SLOT.size

    def _in_use(self) -> int:
        return self.HEADER.unpack_from(self._memory, 0)[0]

    def claim(self) -> int:
        """A free slot, reserved for a worker about to be forked (called in the master only)."""
        for slot in range(self.slots):
            if self.SLOT.unpack_from(self._memory, self._offset(slot))[0] == 0:
                self.SLOT.pack_into(self._memory, self._offset(slot), -1, 0, time.monotonic())
                self.HEADER.pack_into(self._memory, 0, max(self._in_use(), slot + 1))
                return slot
        raise RuntimeError(f"more than {self.slots} workers")

    def release(self, slot: int) -> None:
        self.SLOT.pack_into(self._memory, self._offset(slot), 0, 0, 0.0)

    def publish(self, slot: int, connections: int) -> None:
        self.SLOT.pack_into(self._memory, self._offset(slot), os.getpid(), connections, time.monotonic())

    def others(self, slot: int) -> list[int]:
        """Open connections of every other worker whose heartbeat is fresh."""
        now = time.monotonic()
        found = []
        for other in range(self._in_use()):
            pid, connections, beat = self.SLOT.unpack_from(self._memory, self._offset(other))
            if other != slot and pid > 0 and now - beat < HEARTBEAT_STALE_S:
                found.append(connections)
        return found
