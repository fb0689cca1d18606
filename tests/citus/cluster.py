"""A local Citus cluster on loopback: one coordinator and two workers, for tests and bench.

Built by ``scripts/citus_build`` (cached by the source tarball's hash). Each node is a
PostgreSQL 15 cluster with ``shared_preload_libraries = citus``, logical WAL and scram
passwords on TCP 127.0.0.1 only. Run as root, the servers run as the embedded cluster's
system account and their folders live under /var/lib/leadtrail (as for the embedded server).

Node authentication: the coordinator opens connections to the workers as the role of the
current transaction. The cluster's superuser has the same password on every node and
``pg_dist_authinfo`` carries it; ``leadtrail db distribute`` does the same for leadtrail's roles.
"""

from __future__ import annotations

import hashlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import asyncpg

from leadtrail.storage import citus, migrator

REPO = Path(__file__).resolve().parents[2]
TARBALL_NAME = "citus-13.2.2.tar.gz"
SERVICE_USER = "leadtrail-pg"
DATABASE = "leadtrail"
SUPERUSER = "postgres"


def tarball() -> Path | None:
    """The vendored Citus source release, where scripts/citus_build looks for it."""
    env = os.environ.get("CITUS_TARBALL")
    candidates = [Path(env)] if env else []
    candidates += [
        REPO.parent / "shared" / "vendor" / TARBALL_NAME,
        REPO.parent.parent / "shared" / "vendor" / TARBALL_NAME,
        Path("/work/shared/vendor") / TARBALL_NAME,
    ]
    return next((path for path in candidates if path.is_file()), None)


def cache_root() -> Path:
    """Same rule as scripts/citus_build."""
    if os.environ.get("LEADTRAIL_CITUS_CACHE"):
        return Path(os.environ["LEADTRAIL_CITUS_CACHE"])
    if os.geteuid() == 0:
        return Path("/var/cache/leadtrail")
    xdg = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(xdg) / "leadtrail"


def citus_bindir() -> Path | None:
    """bin folder of the cached build, or None when scripts/citus_build has not run."""
    source = tarball()
    if source is None:
        return None
    sha = hashlib.sha256(source.read_bytes()).hexdigest()[:16]
    cache = cache_root() / f"citus-{sha}"
    if not (cache / ".done").exists():
        return None
    return cache / "root" / "usr" / "lib" / "postgresql" / "15" / "bin"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _service_user() -> pwd.struct_passwd | None:
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVICE_USER)
    except KeyError:
        subprocess.run(
            [
                "useradd",
                "--system",
                "--no-create-home",
                "--shell",
                "/usr/sbin/nologin",
                SERVICE_USER,
            ],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SERVICE_USER)


NODE_SETTINGS = {
    "listen_addresses": "'127.0.0.1'",
    "shared_preload_libraries": "'citus'",
    "wal_level": "logical",
    "max_connections": "300",
    "max_prepared_transactions": "300",
    "max_replication_slots": "16",
    "max_wal_senders": "16",
    "shared_buffers": "128MB",
    "work_mem": "16MB",
    "timezone": "'UTC'",
    "log_timezone": "'UTC'",
    "jit": "off",
    "password_encryption": "'scram-sha-256'",
    # test clusters: durability is not what is measured or tested here
    "fsync": "off",
    # on (the default): a commit returns once its WAL is written, so each worker's change
    # stream has it (with off, the WAL writer sends it up to 200 ms later)
    "synchronous_commit": "on",
    "full_page_writes": "off",
    "log_min_messages": "warning",
    "citus.log_remote_commands": "off",
    # the realtime feed: changes decoded on each worker come out under the distributed
    # tables' names (Citus's own pgoutput wrapper, found first on this path)
    "citus.enable_change_data_capture": "on",
    "dynamic_library_path": "'$libdir/citus_decoders:$libdir'",
    # loopback only: no TLS between the nodes (a real cluster keeps Citus's default, require)
    "citus.node_conninfo": "'sslmode=disable'",
}

HBA = (
    "local all all scram-sha-256\n"
    "host all all 127.0.0.1/32 scram-sha-256\n"
    "local replication all scram-sha-256\n"
    "host replication all 127.0.0.1/32 scram-sha-256\n"
)


@dataclass
class Node:
    name: str
    pgdata: Path
    port: int


@dataclass
class CitusCluster:
    """Three PostgreSQL 15 + Citus nodes; ``start()`` makes them a cluster."""

    bindir: Path
    root: Path
    workers: int = 2
    #: False: one plain PostgreSQL 15 node from the same binaries (a baseline for bench/citus.py)
    with_citus: bool = True
    password: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    nodes: list[Node] = field(default_factory=list)

    @property
    def coordinator(self) -> Node:
        return self.nodes[0]

    def dsn(self, user: str = SUPERUSER, database: str = DATABASE, node: Node | None = None) -> str:
        target = node or self.coordinator
        secret = quote(self.passwords.get(user, self.password), safe="")
        return f"postgresql://{user}:{secret}@127.0.0.1:{target.port}/{database}"

    passwords: dict[str, str] = field(default_factory=dict)

    def _run(self, program: str, *args: str, stdin: str | None = None) -> str:
        user = _service_user()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        env["PGPASSWORD"] = self.password
        # libpq (psql, and the servers' connections to each other) looks in ~/.postgresql
        env["HOME"] = str(self.root)
        proc = subprocess.run(
            [str(self.bindir / program), *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=env,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            cwd="/",
            check=False,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"{program} {' '.join(args)} failed: {proc.stderr or proc.stdout}")
        return proc.stdout

    def start(self) -> None:
        user = _service_user()
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        if user is not None:
            os.chown(self.root, user.pw_uid, user.pw_gid)
        self.passwords[SUPERUSER] = self.password
        for index in range(self.workers + 1):
            name = "coordinator" if index == 0 else f"worker{index}"
            node = Node(name, self.root / name, free_port())
            self.nodes.append(node)
            pwfile = self.root / f".{name}.pw"
            pwfile.write_text(self.password + "\n")
            if user is not None:
                os.chown(pwfile, user.pw_uid, user.pw_gid)
            self._run(
                "initdb",
                "-D",
                str(node.pgdata),
                "-U",
                SUPERUSER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--no-locale",
                "--no-sync",
            )
            pwfile.unlink()
            conf = dict(NODE_SETTINGS, port=str(node.port))
            if not self.with_citus:
                conf = {k: v for k, v in conf.items() if "citus" not in k}
            conf["unix_socket_directories"] = f"'{node.pgdata}'"
            with (node.pgdata / "postgresql.conf").open("a") as handle:
                handle.write("".join(f"{key} = {value}\n" for key, value in conf.items()))
            (node.pgdata / "pg_hba.conf").write_text(HBA)
            self._run(
                "pg_ctl", "start", "-w", "-t", "60", "-D", str(node.pgdata),
                "-l", str(node.pgdata / "server.log"),
            )  # fmt: skip
        if not self.with_citus:
            for node in self.nodes:
                self.psql(node, "postgres", f'CREATE DATABASE "{DATABASE}"')
            return
        self.add_database(DATABASE)

    def add_database(self, name: str, authinfo: tuple[tuple[str, str], ...] = ()) -> None:
        """A database on every node, made a Citus cluster of its own (Citus keeps its nodes
        and node passwords per database): the extension, the superuser's password and
        ``authinfo`` ((role, 'password=…'), …) in pg_dist_authinfo, and the workers."""
        rows = ((SUPERUSER, f"password={self.password}"), *authinfo)
        values = ", ".join(f"(0, '{role}', '{info}')" for role, info in rows)
        for node in self.nodes:
            self.psql(node, "postgres", f'CREATE DATABASE "{name}"')
            self.psql(
                node,
                name,
                "CREATE EXTENSION citus;"
                f"INSERT INTO pg_dist_authinfo (nodeid, rolename, authinfo) VALUES {values};",
            )
        self.psql(
            self.coordinator,
            name,
            f"SELECT citus_set_coordinator_host('127.0.0.1', {self.coordinator.port});"
            + "".join(
                f"SELECT citus_add_node('127.0.0.1', {node.port});" for node in self.nodes[1:]
            ),
        )

    def psql(self, node: Node, database: str, sql: str) -> str:
        return self._run(
            "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-At", "-h", "127.0.0.1",
            "-p", str(node.port), "-U", SUPERUSER, "-d", database, "-c", sql,
        )  # fmt: skip

    def restart(self, node: Node) -> None:
        """Stop a node fast (its walsenders and backends end) and start it again."""
        self._run("pg_ctl", "stop", "-m", "fast", "-w", "-t", "60", "-D", str(node.pgdata))
        self._run(
            "pg_ctl", "start", "-w", "-t", "60", "-D", str(node.pgdata),
            "-l", str(node.pgdata / "server.log"),
        )  # fmt: skip

    def stop(self) -> None:
        for node in reversed(self.nodes):
            if (node.pgdata / "postmaster.pid").exists():
                try:
                    self._run("pg_ctl", "stop", "-m", "immediate", "-w", "-D", str(node.pgdata))
                except RuntimeError:
                    pass
        shutil.rmtree(self.root, ignore_errors=True)


def new_root(base: Path) -> Path:
    """Where the nodes' data folders go: under /var/lib/leadtrail as root (the service account
    cannot traverse pytest's root-owned temp folders), else under ``base``."""
    if os.geteuid() == 0:
        parent = Path("/var/lib/leadtrail")
        parent.mkdir(mode=0o755, parents=True, exist_ok=True)
        return parent / f"citus-{os.getpid()}-{secrets.token_hex(4)}"
    return base / "citus"


async def install_leadtrail(dsn: str, shard_count: int) -> None:
    """Migrate a cluster database and distribute it (``leadtrail migrate`` then ``leadtrail db
    distribute``), with partitions for the next three months. Few shards on one small machine:
    a real cluster keeps Citus's default, 32."""
    conn = await asyncpg.connect(dsn)
    try:
        await migrator.migrate(conn)
        await conn.execute("SELECT leadtrail.ensure_partitions(3)")
        await citus.distribute(conn, shard_count=shard_count, echo=lambda _: None)
    finally:
        await conn.close()
