"""The embedded PostgreSQL server: PostgreSQL 16 binaries from the ``pgserver`` wheel.

We drive ``initdb`` and ``pg_ctl`` ourselves rather than through ``pgserver.get_server``
because leadtrail must set the server's configuration (logical decoding, memory, WAL)
and decide when it stops. Several leadtrail processes may share one data directory
(``serve`` plus a ``migrate`` in another shell); a lock file and a list of live
handles make the last one out stop the server.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from leadtrail.errors import ConfigError

logger = logging.getLogger(__name__)

#: System account that runs the server when leadtrail itself runs as root
#: (PostgreSQL refuses to run as root).
SERVICE_USER = "leadtrail-pg"
SUPERUSER = "postgres"
DATABASE = "leadtrail"
PORT = 5432
SOCKET_NAME = f".s.PGSQL.{PORT}"


def binaries_dir() -> Path:
    """Folder of the ``pgserver`` wheel's PostgreSQL programs, found without importing it
    (its import has side effects: runtime-dir warnings and a global lock file)."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or not spec.submodule_search_locations:
        raise ConfigError(
            "the embedded database needs the 'pgserver' package; pip install pgserver"
        )
    bindir = Path(next(iter(spec.submodule_search_locations))) / "pginstall" / "bin"
    if not (bindir / "postgres").exists():
        raise ConfigError(f"pgserver is installed but has no PostgreSQL binaries in {bindir}")
    return bindir


def server_settings(
    shared_buffers: str,
    max_slot_wal_keep_size: str,
    socket_dir: Path,
    log_rotation_size: str = "10MB",
) -> dict[str, str]:
    """The configuration leadtrail writes into ``leadtrail.conf`` on every start.

    Stock settings (128MB buffers, 1GB max WAL, ``wal_level=replica``) halve COPY speed
    and rule out logical decoding, which the realtime feed needs.
    """
    return {
        "listen_addresses": "''",
        "unix_socket_directories": f"'{socket_dir}'",
        "port": str(PORT),
        "max_connections": "200",
        "shared_buffers": shared_buffers,
        "effective_cache_size": "4GB",
        "work_mem": "32MB",
        "maintenance_work_mem": "256MB",
        "wal_level": "logical",
        "max_replication_slots": "16",
        "max_wal_senders": "16",
        "max_slot_wal_keep_size": max_slot_wal_keep_size,
        "max_wal_size": "8GB",
        "min_wal_size": "512MB",
        "wal_buffers": "16MB",
        "checkpoint_timeout": "15min",
        "checkpoint_completion_target": "0.9",
        # Acknowledged means durable: commits wait for the WAL flush.
        "synchronous_commit": "on",
        "fsync": "on",
        "random_page_cost": "1.1",
        # JIT compilation costs more than it saves on short dashboard queries.
        "jit": "off",
        "timezone": "'UTC'",
        "log_timezone": "'UTC'",
        # Quiet, bounded logs: warnings and worse, no checkpoint or autovacuum chatter, a
        # new file every `log_rotation_size` (the log housekeeping job deletes old ones).
        # The realtime feed's session also raises its own threshold (each poll would log
        # "starting logical decoding for slot" at LOG level).
        "logging_collector": "on",
        "log_directory": "'log'",
        "log_filename": "'postgresql-%Y%m%d-%H%M%S.log'",
        "log_rotation_size": log_rotation_size,
        "log_rotation_age": "'1d'",
        "log_truncate_on_rotation": "off",
        "log_line_prefix": "'%m [%p] '",
        "log_min_messages": "warning",
        "log_checkpoints": "off",
        "log_autovacuum_min_duration": "-1",
        "log_min_duration_statement": "-1",
    }


@dataclass
class EmbeddedPostgres:
    """One PostgreSQL cluster living in ``data_dir/pg``."""

    data_dir: Path
    shared_buffers: str = "1GB"
    max_slot_wal_keep_size: str = "4GB"
    log_rotation_size: str = "10MB"
    _started_here: bool = field(default=False, init=False)
    _registered: bool = field(default=False, init=False)

    @property
    def pgdata(self) -> Path:
        return self.data_dir / "pg"

    @property
    def socket_dir(self) -> Path:
        """The data directory itself when the socket path fits in ``sun_path`` (107 bytes),
        else a short per-cluster folder under the system temp dir."""
        candidate = self.data_dir / "run"
        if len(str(candidate / SOCKET_NAME)) < 100:
            return candidate
        digest = hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:12]
        return Path(tempfile.gettempdir()) / f"leadtrail-{digest}"

    def dsn(self, user: str = SUPERUSER, database: str = DATABASE) -> str:
        """libpq URL reaching the server over its Unix socket."""
        return f"postgresql://{user}@/{database}?host={quote(str(self.socket_dir), safe='')}"

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> str:
        """Initialise the cluster if needed, start it unless running, return the owner DSN."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self._locked():
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            self._write_config()
            if not self._is_running():
                self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.data_dir / "postgres.log"))
                self._started_here = True
                logger.info("embedded PostgreSQL started in %s", self.pgdata)
            self._ensure_database()
            self._handles(add=os.getpid())
            self._registered = True
        return self.dsn()

    def stop(self, *, force: bool = False) -> None:
        """Leave the cluster; stop it when no other live leadtrail process uses it."""
        if not self._registered and not force:
            return
        with self._locked():
            remaining = self._handles(remove=os.getpid())
            self._registered = False
            if (remaining and not force) or not self._is_running():
                return
            self._pg_ctl("stop", "-w", "-t", "60", "-m", "fast")
            logger.info("embedded PostgreSQL stopped")

    def is_running(self) -> bool:
        return self._is_running()

    # -- helpers ---------------------------------------------------------------

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with open(self.data_dir / ".pg.lock", "a+") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _handles(self, *, add: int | None = None, remove: int | None = None) -> list[int]:
        """Live pids sharing the cluster, stored beside it; dead pids are dropped."""
        path = self.data_dir / ".pg.handles.json"
        try:
            pids = [int(p) for p in json.loads(path.read_text())]
        except (FileNotFoundError, ValueError):
            pids = []
        pids = [p for p in pids if _pid_alive(p) and p != remove]
        if add is not None and add not in pids:
            pids.append(add)
        path.write_text(json.dumps(pids))
        return pids

    def _service_user(self) -> pwd.struct_passwd | None:
        """Account to run PostgreSQL as: ourselves, or a system user when we are root."""
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

    def _prepare_permissions(self) -> None:
        user = self._service_user()
        if user is None:
            return
        # The service user must traverse every parent folder and read the binaries.
        for path in [self.data_dir, binaries_dir().parent]:
            for parent in [path, *path.parents]:
                mode = parent.stat().st_mode
                parent.chmod(mode | stat.S_IXOTH | stat.S_IROTH)
        for path in (self.pgdata, self.socket_dir):
            path.mkdir(parents=True, exist_ok=True)
            os.chown(path, user.pw_uid, user.pw_gid)
        log = self.data_dir / "postgres.log"
        log.touch()
        os.chown(log, user.pw_uid, user.pw_gid)

    def _run(self, program: str, *args: str) -> subprocess.CompletedProcess[str]:
        user = self._service_user()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        proc = subprocess.run(
            [str(binaries_dir() / program), *args],
            capture_output=True,
            text=True,
            env=env,
            user=user.pw_uid if user else None,
            group=user.pw_gid if user else None,
            cwd="/",
            check=False,
        )
        if proc.returncode != 0:
            log_tail = _tail(self.data_dir / "postgres.log")
            raise ConfigError(
                f"{program} {' '.join(args[:1])} failed: {proc.stderr.strip() or proc.stdout.strip()}"
                + (f" (server log: {log_tail})" if log_tail else "")
            )
        return proc

    def _initdb(self) -> None:
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise ConfigError(f"{self.pgdata} exists but is not a PostgreSQL data directory")
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self.pgdata.chmod(0o700)
        self._prepare_permissions()
        self._run(
            "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            SUPERUSER,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
        )
        logger.info("initialised embedded PostgreSQL cluster in %s", self.pgdata)

    def _write_config(self) -> None:
        self._prepare_permissions()
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        settings = server_settings(
            self.shared_buffers,
            self.max_slot_wal_keep_size,
            self.socket_dir,
            self.log_rotation_size,
        )
        body = "# written by leadtrail on every start; edit LEADTRAIL_* settings instead\n"
        body += "".join(f"{key} = {value}\n" for key, value in settings.items())
        conf = self.pgdata / "leadtrail.conf"
        conf.write_text(body)
        main_conf = self.pgdata / "postgresql.conf"
        text = main_conf.read_text()
        if "include_if_exists = 'leadtrail.conf'" not in text:
            main_conf.write_text(text + "\ninclude_if_exists = 'leadtrail.conf'\n")
        user = self._service_user()
        if user is not None:
            os.chown(conf, user.pw_uid, user.pw_gid)
            os.chown(main_conf, user.pw_uid, user.pw_gid)

    def _is_running(self) -> bool:
        pidfile = self.pgdata / "postmaster.pid"
        try:
            pid = int(pidfile.read_text().splitlines()[0])
        except (FileNotFoundError, IndexError, ValueError):
            return False
        return _pid_alive(pid) and (self.socket_dir / SOCKET_NAME).exists()

    def _pg_ctl(self, action: str, *args: str) -> None:
        self._run("pg_ctl", action, "-D", str(self.pgdata), *args)

    def _ensure_database(self) -> None:
        psql = ["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.dsn(database="postgres")]
        found = self._run(
            "psql", *psql, "-tAc", f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}'"
        ).stdout.strip()
        if found != "1":
            self._run("psql", *psql, "-c", f'CREATE DATABASE "{DATABASE}"')


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _tail(path: Path, lines: int = 3) -> str:
    try:
        return " | ".join(path.read_text(errors="replace").strip().splitlines()[-lines:])
    except FileNotFoundError:
        return ""


def remove_cluster(data_dir: Path) -> None:
    """Delete a stopped cluster's files (tests' throwaway clusters)."""
    shutil.rmtree(data_dir / "pg", ignore_errors=True)
