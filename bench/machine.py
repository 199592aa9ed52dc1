"""What else the machine did: CPU time used outside the bench's own process tree."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _all_busy_seconds() -> float:
    fields = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, _irq, _softirq, steal = (int(f) for f in fields[:8])
    # Interrupt time is charged to no process, and loopback traffic makes plenty of it.
    return (user + nice + system + steal) / _TICKS


def _tree_seconds(pid: int, include_waited: bool) -> float:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    # utime, stime, and the children it waited for: cutime, cstime (fields 14-17 of stat).
    ticks = int(stat[11]) + int(stat[12])
    if include_waited:
        ticks += int(stat[13]) + int(stat[14])
    return ticks / _TICKS + sum(_tree_seconds(int(child), True) for child in children)


@dataclass(frozen=True, slots=True)
class CpuMark:
    at: float
    busy: float
    ours: float

    @classmethod
    def now(cls) -> CpuMark:
        return cls(time.monotonic(), _all_busy_seconds(), _tree_seconds(os.getpid(), True))

    def others_percent(self) -> float:
        """CPU used by other processes since this mark, in % of all the machine's CPUs."""
        later = CpuMark.now()
        others = (later.busy - self.busy) - (later.ours - self.ours)
        wall = (later.at - self.at) * (os.cpu_count() or 1)
        return round(max(0.0, 100 * others / wall), 1) if wall > 0 else 0.0
