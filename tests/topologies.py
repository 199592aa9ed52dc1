"""Real Redis topologies for tests: a three-master Redis Cluster and Sentinel-managed pairs
(one Sentinel, one master and replica per master name), all on loopback ports, never the
machine's own Redis."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
import redis

from tests.processes import Process, free_port, wait_for_port

# The real servers behind a parametrized fixture: those runs are integration tests, so
# `pytest --fast` (scripts/test --fast) keeps only the fakeredis one.
REDIS_BACKENDS = [
    "fakeredis",
    pytest.param("redis-server", marks=pytest.mark.integration),
    pytest.param("redis-cluster", marks=pytest.mark.integration),
]


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} is not installed; run `make setup` (see README)")
    return found


def _wait(what: str, done: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not done():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what} after {timeout}s")
        time.sleep(0.05)


class RedisCluster:
    """Three masters, no replicas: ``redis-cli --cluster create`` over three fresh nodes."""

    def __init__(self, log_dir: Path, masters: int = 3) -> None:
        self.log_dir = log_dir
        self.ports = [free_port() for _ in range(masters)]
        self.nodes: list[Process] = []
        for port in self.ports:
            data = log_dir / f"cluster-{port}"
            data.mkdir(parents=True, exist_ok=True)
            args = [
                _binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
                "--cluster-enabled", "yes", "--cluster-config-file", str(data / "nodes.conf"),
                # Its own bus port: the default (port + 10000) may be taken or out of range.
                "--cluster-port", str(free_port()),
                "--cluster-node-timeout", "2000", "--save", "", "--appendonly", "no",
                "--dir", str(data),
            ]  # fmt: skip
            self.nodes.append(Process(f"cluster-{port}", args, {}, log_dir))
        for port, node in zip(self.ports, self.nodes, strict=True):
            wait_for_port(port, proc=node.proc)
        subprocess.run(
            [_binary("redis-cli"), "--cluster", "create"]
            + [f"127.0.0.1:{port}" for port in self.ports]
            + ["--cluster-replicas", "0", "--cluster-yes"],
            check=True,
            capture_output=True,
            timeout=60,
        )
        _wait("the cluster is not ok", self._ok)

    def _ok(self) -> bool:
        for port in self.ports:
            with redis.Redis(port=port, decode_responses=True) as node:
                info = node.cluster("info")
                if info.get("cluster_state") != "ok" or int(info["cluster_known_nodes"]) != len(
                    self.ports
                ):
                    return False
        return True

    def url(self) -> str:
        """A seed node: the client learns the others from it."""
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def flushall(self) -> None:
        for port in self.ports:
            with redis.Redis(port=port) as node:
                node.flushall()

    def stop(self) -> None:
        for node in self.nodes:
            node.stop()


class SentinelGroup:
    """For each master name, a master and a replica of it; one Sentinel monitoring them all
    (the first name is the default of every method)."""

    def __init__(self, log_dir: Path, *master_names: str) -> None:
        self.log_dir = log_dir
        names = master_names or ("twostep",)
        self.master_name = names[0]
        # Each name: [master port, replica port], as they were at the start.
        self.pairs = {name: [free_port(), free_port()] for name in names}
        self.servers = {port: self._server(port) for pair in self.pairs.values() for port in pair}
        for port, server in self.servers.items():
            wait_for_port(port, proc=server.proc)
        for master, replica_port in self.pairs.values():
            with redis.Redis(port=replica_port) as replica:
                replica.replicaof("127.0.0.1", master)
        for _master, replica_port in self.pairs.values():
            _wait("the replica never synced", lambda port=replica_port: self._synced(port))
        self.sentinel_port = free_port()
        conf = log_dir / f"sentinel-{self.sentinel_port}.conf"
        lines = [f"port {self.sentinel_port}", "bind 127.0.0.1", f"dir {log_dir}"]
        for name, (master, _replica) in self.pairs.items():
            lines += [
                f"sentinel monitor {name} 127.0.0.1 {master} 1",
                f"sentinel down-after-milliseconds {name} 1000",
                f"sentinel failover-timeout {name} 5000",
                f"sentinel parallel-syncs {name} 1",
            ]
        conf.write_text("\n".join(lines) + "\n")
        self.sentinel = Process(
            f"sentinel-{self.sentinel_port}",
            [_binary("redis-server"), str(conf), "--sentinel"],
            {},
            log_dir,
        )
        wait_for_port(self.sentinel_port, proc=self.sentinel.proc)
        for name in self.pairs:
            _wait("the sentinel never saw the replica", lambda name=name: self._sees_replica(name))

    def _server(self, port: int) -> Process:
        data = self.log_dir / f"sentinel-node-{port}"
        data.mkdir(parents=True, exist_ok=True)
        args = [
            _binary("redis-server"), "--port", str(port), "--bind", "127.0.0.1",
            "--save", "", "--appendonly", "no", "--dir", str(data),
            # A replica syncs at once, not after Redis's default 5 s of waiting for others.
            "--repl-diskless-sync-delay", "0",
        ]  # fmt: skip
        return Process(f"sentinel-node-{port}", args, {}, self.log_dir)

    def _synced(self, port: int) -> bool:
        with redis.Redis(port=port, decode_responses=True) as node:
            info = node.info("replication")
            return bool(info.get("master_link_status") == "up")

    def _sees_replica(self, master_name: str) -> bool:
        with redis.Redis(port=self.sentinel_port, decode_responses=True) as sentinel:
            replicas = sentinel.sentinel_slaves(master_name)
            return any(
                "s_down" not in replica["flags"] and replica["master-link-status"] == "ok"
                for replica in replicas
            )

    def master_port(self, master_name: str | None = None) -> int:
        with redis.Redis(port=self.sentinel_port, decode_responses=True) as sentinel:
            _host, port = sentinel.sentinel_get_master_addr_by_name(master_name or self.master_name)
            return int(port)

    def url(self, db: int = 0) -> str:
        """The Sentinel URL, as kombu's broker transport reads it."""
        return f"sentinel://127.0.0.1:{self.sentinel_port}/{db}"

    def failover(self, master_name: str | None = None, timeout: float = 30.0) -> int:
        """``SENTINEL FAILOVER``: the replica becomes the master. Returns the new master's port
        once the old master replicates from it."""
        name = master_name or self.master_name
        old = self.master_port(name)
        with redis.Redis(port=self.sentinel_port) as sentinel:
            sentinel.execute_command("SENTINEL FAILOVER", name)
        _wait("no new master", lambda: self.master_port(name) != old, timeout)
        new = self.master_port(name)

        def demoted() -> bool:
            with redis.Redis(port=old, decode_responses=True) as node:
                info = node.info("replication")
                return bool(info["role"] == "slave" and info.get("master_link_status") == "up")

        _wait("the old master never followed the new one", demoted, timeout)
        return new

    def stop(self) -> None:
        self.sentinel.stop()
        for server in self.servers.values():
            server.stop()
