"""The embedded PostgreSQL server: PostgreSQL 16 binaries from the ``pgserver`` wheel.

We drive ``initdb`` and ``pg_ctl`` ourselves rather than through ``pgserver.get_server``
because leadtrail must set the server's configuration (logical decoding, memory, WAL)
and decide when it stops. Several leadtrail processes may share one data directory
(``serve`` plus a ``migrate`` in another shell); a lock file and a list of live
handles make the last one out stop the server.

The cluster is locked to its owner: scram-sha-256 passwords for every role, generated into
0600 files under ``data_dir/secrets``, and a 0700 socket folder. Run as root, the server runs
as a system account whose files live in a folder of its own under ``/var/lib/leadtrail``:
no folder outside leadtrail's own has its permissions changed.
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
import secrets
import shutil
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
#: The request path's login role (created here so that it has a password before the
#: migrations grant it anything; 0001_foundation.sql creates it the same way elsewhere).
APP_ROLE = "leadtrail_app"
DATABASE = "leadtrail"
#: Parent of the server's own folders when leadtrail runs as root (the service account
#: cannot traverse root's home, and we do not open root's folders to it).
SERVICE_ROOT = Path("/var/lib/leadtrail")
#: What pg_hba.conf allows: the Unix socket only, with a password.
HBA = (
    "# written by leadtrail on every start: passwords (scram-sha-256) on the Unix socket only\n"
    "local all all scram-sha-256\n"
    "local replication all scram-sha-256\n"
)
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
    def _digest(self) -> str:
        return hashlib.sha256(str(self.data_dir.resolve()).encode()).hexdigest()[:12]

    @property
    def service_home(self) -> Path | None:
        """The server account's own folder when we run as root, else None."""
        return SERVICE_ROOT / self._digest if os.geteuid() == 0 else None

    @property
    def pgdata(self) -> Path:
        home = self.service_home
        return home / "pg" if home is not None else self.data_dir / "pg"

    @property
    def log_file(self) -> Path:
        home = self.service_home
        return (home if home is not None else self.data_dir) / "postgres.log"

    @property
    def socket_dir(self) -> Path:
        """The data directory itself when the socket path fits in ``sun_path`` (107 bytes),
        else a short per-cluster folder under the system temp dir."""
        home = self.service_home
        candidate = (home if home is not None else self.data_dir) / "run"
        if len(str(candidate / SOCKET_NAME)) < 100:
            return candidate
        return Path(tempfile.gettempdir()) / f"leadtrail-{self._digest}"

    @property
    def secrets_dir(self) -> Path:
        return self.data_dir / "secrets"

    def password(self, user: str) -> str:
        """The role's generated password, read from (or first written to) a 0600 file."""
        _private_dir(self.data_dir)
        _private_dir(self.secrets_dir)
        path = self.secrets_dir / f"{user}.password"
        if not path.exists():
            # Written whole under a private name, then linked into place: a process that
            # races us reads either no file or the complete one, and the first link wins.
            draft = path.with_name(f".{user}.{os.getpid()}.draft")
            fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(32) + "\n")
            with contextlib.suppress(FileExistsError):
                os.link(draft, path)
            draft.unlink()
        return path.read_text().strip()

    def dsn(self, user: str = SUPERUSER, database: str = DATABASE) -> str:
        """libpq URL reaching the server over its Unix socket, with the role's password."""
        secret = quote(self.password(user), safe="")
        host = quote(str(self.socket_dir), safe="")
        return f"postgresql://{user}:{secret}@/{database}?host={host}"

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> str:
        """Initialise the cluster if needed, start it unless running, return the owner DSN."""
        _private_dir(self.data_dir)
        with self._locked():
            if not (self.pgdata / "PG_VERSION").exists():
                self._initdb()
            self._write_config()
            if not self._is_running():
                self._pg_ctl("start", "-w", "-t", "60", "-l", str(self.log_file))
                self._started_here = True
                logger.info("embedded PostgreSQL started in %s", self.pgdata)
            self._ensure_database()
            # A cluster made by an older leadtrail trusted every local user: its passwords
            # are set above (trust still lets us in), then the socket asks for them.
            self._lock_hba()
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

    def _prepare_folders(self) -> None:
        """The server's folders, 0700 and owned by the account that runs it. As root they
        live under ``SERVICE_ROOT`` (world-traversable, like /var/lib itself) so that no
        parent folder of the data directory is opened to the service account."""
        user = self._service_user()
        owner = (user.pw_uid, user.pw_gid) if user is not None else None
        home = self.service_home
        if home is not None:
            SERVICE_ROOT.mkdir(mode=0o755, parents=True, exist_ok=True)
            _private_dir(home, owner)
            # which data directory this folder serves (for operators and clean-up)
            (home / "data_dir").write_text(str(self.data_dir.resolve()) + "\n")
            link = self.data_dir / "pg"
            if link.is_dir() and not link.is_symlink() and not self.pgdata.exists():
                # a cluster an older leadtrail made inside root's data directory
                if link.stat().st_dev != home.stat().st_dev:
                    raise ConfigError(f"move {link} to {self.pgdata} (another file system)")
                link.rename(self.pgdata)
            if not link.exists() and not link.is_symlink():
                # where an operator looks for the cluster; the server itself uses the real path
                link.symlink_to(self.pgdata)
        for path in (self.pgdata, self.socket_dir):
            _private_dir(path, owner)
        if owner is not None:
            self.log_file.touch(mode=0o600)
            os.chown(self.log_file, *owner)

    def _run(
        self, program: str, *args: str, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        user = self._service_user()
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        if program == "psql":
            # in the environment, not in argv (which every local user can read)
            env["PGPASSWORD"] = self.password(SUPERUSER)
        proc = subprocess.run(
            [str(binaries_dir() / program), *args],
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
            log_tail = _tail(self.log_file)
            raise ConfigError(
                f"{program} {' '.join(args[:1])} failed: {proc.stderr.strip() or proc.stdout.strip()}"
                + (f" (server log: {log_tail})" if log_tail else "")
            )
        return proc

    def _initdb(self) -> None:
        if self.pgdata.exists() and any(self.pgdata.iterdir()):
            raise ConfigError(f"{self.pgdata} exists but is not a PostgreSQL data directory")
        self._prepare_folders()
        # initdb reads the superuser's password from a file: one the server account owns,
        # beside the cluster, removed straight after.
        pwfile = self.pgdata.parent / f".initdb-{os.getpid()}.pw"
        fd = os.open(pwfile, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(self.password(SUPERUSER) + "\n")
        user = self._service_user()
        if user is not None:
            os.chown(pwfile, user.pw_uid, user.pw_gid)
        try:
            self._run(
                "initdb",
                "-D",
                str(self.pgdata),
                "-U",
                SUPERUSER,
                "--auth=scram-sha-256",
                f"--pwfile={pwfile}",
                "--encoding=UTF8",
                "--no-locale",
            )
        finally:
            pwfile.unlink(missing_ok=True)
        self._write_hba()
        logger.info("initialised embedded PostgreSQL cluster in %s", self.pgdata)

    def _write_hba(self) -> bool:
        """Write pg_hba.conf; True when it changed."""
        hba = self.pgdata / "pg_hba.conf"
        if hba.exists() and hba.read_text() == HBA:
            return False
        hba.write_text(HBA)
        user = self._service_user()
        if user is not None:
            os.chown(hba, user.pw_uid, user.pw_gid)
        return True

    def _lock_hba(self) -> None:
        if self._write_hba():
            self._pg_ctl("reload")
            logger.warning("embedded PostgreSQL: local connections now need a password")

    def _write_config(self) -> None:
        self._prepare_folders()
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
        """The leadtrail database, and the passwords of the superuser and the app role
        (sent on stdin: argv is readable by every local user)."""
        host = quote(str(self.socket_dir), safe="")
        target = f"postgresql://{SUPERUSER}@/postgres?host={host}"
        owner_pw = _sql_literal(self.password(SUPERUSER))
        app_pw = _sql_literal(self.password(APP_ROLE))
        script = f"""
SELECT 'CREATE DATABASE "{DATABASE}"'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{DATABASE}') \\gexec
ALTER ROLE {SUPERUSER} PASSWORD {owner_pw};
SELECT 'CREATE ROLE {APP_ROLE} LOGIN NOINHERIT NOBYPASSRLS'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{APP_ROLE}') \\gexec
ALTER ROLE {APP_ROLE} PASSWORD {app_pw};
"""
        self._run(
            "psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", target, "-f", "-", stdin=script
        )


def _private_dir(path: Path, owner: tuple[int, int] | None = None) -> None:
    """Create ``path`` as 0700 (and chown it to ``owner``); an existing folder we own is
    narrowed to 0700, one owned by another account is refused (a planted socket folder)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if owner is not None:
        os.chown(path, *owner)
    info = path.stat()
    expected = owner[0] if owner is not None else os.geteuid()
    if info.st_uid != expected:
        raise ConfigError(f"{path} belongs to another user (uid {info.st_uid}); remove it")
    if info.st_mode & 0o077:
        path.chmod(0o700)


def _sql_literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


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
    embedded = EmbeddedPostgres(data_dir)
    shutil.rmtree(embedded.pgdata, ignore_errors=True)
    if embedded.service_home is not None:
        shutil.rmtree(embedded.service_home, ignore_errors=True)
        (data_dir / "pg").unlink(missing_ok=True)
