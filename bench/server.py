"""Run the real server for reliability and load tests: an instance, gunicorn, a client.

The pieces, smallest first:

- ``prepare(database_url=None)`` makes an instance folder, creates the schema the way an
  operator does (``oversight db upgrade``: the migrations, not ``create_all``) and seeds
  the demo data (``oversight seed-demo``). It returns an ``Instance`` holding the folder, the
  database URL and the demo logins. Without a URL the database is SQLite in the folder; a
  PostgreSQL URL (``postgresql://…``) is used as given, and ``reset=True`` drops and
  recreates its ``public`` schema first. An ``Instance`` can also be built directly around a
  database that already has its schema and data (the test suite's PostgreSQL fixture).
- ``Server(instance, workers=2)`` runs ``gunicorn 'oversight:create_app()'`` on a free
  loopback port in its own process group, with the environment the README asks for under
  gunicorn (``OVERSIGHT_SEARCH_INLINE=0``) and the per-client submission limit lifted (all
  load comes from 127.0.0.1). ``indexer=True`` also runs ``oversight index --follow`` in
  the same process group. ``start()`` waits until the server answers and every worker is
  up; ``worker_pids()`` and ``rss()`` read ``/proc``; ``stop()`` shuts down gracefully and
  ``kill()`` sends SIGKILL to the whole group at once (master, workers, indexer), as a
  power cut or the OOM killer would. A stopped or killed server can be started again on
  the same instance and port.
- ``Client(url)`` is one browser: it keeps cookies, never follows redirects, and sends
  forms (urlencoded, or multipart with files). ``csrf_token``, ``complaint_form_fields``,
  ``receipt``, ``login`` and ``track`` read and drive the app's pages.

Example::

    inst = server.prepare()
    with server.Server(inst, workers=4) as srv:
        client = server.Client(srv.url)
        fields = server.complaint_form_fields(client.get("/complaints/new").text)
        ...
        print(srv.rss())
    inst.remove()

Only the standard library and the app's own command line are used, so the numbers measure
the server, not a client framework.
"""

from __future__ import annotations

import http.client
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

#: What every server gets besides the instance and the database (see README, "Search" and
#: "Configuration"): web workers never write the index, and one loopback client may submit
#: as often as the test needs.
BASE_ENV = {
    "OVERSIGHT_SEARCH_INLINE": "0",
    "OVERSIGHT_SUBMIT_MAX_PER_CLIENT": str(10**9),
}

#: Variables from the caller's environment that would change what the server does (a mail
#: server, another database or instance, a proxy setting): never passed on.
_SCRUBBED = ("DATABASE_URL", "SECRET_KEY", "SMTP_", "OVERSIGHT_", "TEST_DATABASE_URL")


# --------------------------------------------------------------------------- instance

@dataclass
class Instance:
    """An instance folder and its database, with the demo logins ({username: password})."""

    path: Path
    database_url: str
    passwords: dict[str, str] = field(default_factory=dict)
    #: remove ``path`` in ``remove()`` (True when ``prepare`` made a temporary folder)
    owned: bool = False

    @property
    def sqlite_file(self) -> Path | None:
        """The SQLite database file, or None on PostgreSQL."""
        if self.database_url.startswith("sqlite:///"):
            return Path(self.database_url[len("sqlite:///"):])
        return None

    @property
    def upload_folder(self) -> Path:
        return self.path / "attachments"

    def env(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        """The environment of a server or command on this instance."""
        env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED)}
        env.update(BASE_ENV)
        env["OVERSIGHT_INSTANCE"] = str(self.path)
        env["DATABASE_URL"] = self.database_url
        env.update(extra or {})
        return env

    def oversight(self, *args: str, check: bool = True,
                  timeout: float = 600) -> subprocess.CompletedProcess:
        """Run an ``oversight`` command on this instance; its output is captured."""
        result = subprocess.run([str(_oversight_bin()), *args], env=self.env(), cwd=ROOT,
                                capture_output=True, text=True, timeout=timeout)
        if check and result.returncode != 0:
            raise RuntimeError(f"oversight {' '.join(args)} exited {result.returncode}:\n"
                               f"{result.stdout}\n{result.stderr}")
        return result

    def remove(self) -> None:
        """Delete the instance folder if ``prepare`` created it (not the database)."""
        if self.owned:
            shutil.rmtree(self.path, ignore_errors=True)


def _oversight_bin() -> Path:
    path = BIN / "oversight"
    return path if path.exists() else Path(shutil.which("oversight") or "oversight")


def reset_postgres(database_url: str) -> None:
    """Drop and recreate the ``public`` schema: an empty database for the migrations."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA IF EXISTS public CASCADE")
        conn.execute("CREATE SCHEMA public")


def prepare(database_url: str | None = None, *, root: Path | None = None,
            reset: bool = False, seed: bool = True) -> Instance:
    """A ready instance: folder, schema through the migrations, demo data.

    ``root`` is the instance folder (a new temporary folder when omitted). ``database_url``
    is a ``postgresql://`` URL, or None for SQLite in the folder. ``reset`` empties the
    PostgreSQL schema first (the migrations need an empty database)."""
    owned = root is None
    path = Path(tempfile.mkdtemp(prefix="oversight-server-")) if root is None else Path(root)
    path.mkdir(parents=True, exist_ok=True)
    if database_url is None:
        database_url = f"sqlite:///{path / 'oversight.db'}"
    elif reset:
        reset_postgres(database_url)
    instance = Instance(path=path.resolve(), database_url=database_url, owned=owned)
    instance.oversight("db", "upgrade")
    if seed:
        instance.passwords = parse_logins(instance.oversight("seed-demo").stdout)
    return instance


def instance_for_tests(path: Path, database_url: str = "") -> Instance:
    """An instance for the test suite: SQLite through ``prepare`` when ``database_url`` is
    empty; otherwise the suite's PostgreSQL, whose schema its fixtures made and emptied,
    seeded here in the caller's app context (``tests/conftest.py``: ``app``)."""
    if not database_url:
        return prepare(root=path)
    from oversight.seed import seed_demo
    from oversight.services.uow import unit_of_work

    with unit_of_work():
        passwords = seed_demo()
    path.mkdir(parents=True, exist_ok=True)
    return Instance(path=path.resolve(), database_url=database_url, passwords=passwords)


def parse_logins(output: str) -> dict[str, str]:
    """{username: password} from the output of ``oversight seed-demo`` (indented pairs)."""
    pairs = (line.split() for line in output.splitlines() if line.startswith("  "))
    return {p[0]: p[1] for p in pairs if len(p) == 2}


# --------------------------------------------------------------------------- server

def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _parent_pid(pid: int) -> int | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name is in parentheses and may hold spaces: the fields follow the last ")".
    return int(stat.rsplit(")", 1)[1].split()[1])


def memory(pid: int) -> dict[str, int]:
    """Resident memory of a process in bytes, from /proc/<pid>/status: ``rss`` (VmRSS),
    ``anon`` (RssAnon: the heap, where a leak shows) and ``file`` (RssFile: mapped files,
    such as the search index). Empty when the process is gone."""
    keys = {"VmRSS": "rss", "RssAnon": "anon", "RssFile": "file"}
    try:
        lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    except OSError:
        return {}
    out = {}
    for line in lines:
        name, _sep, value = line.partition(":")
        if name in keys:
            out[keys[name]] = int(value.split()[0]) * 1024
    return out


def mapped_files(pid: int, top: int = 6) -> dict[str, int]:
    """The files that most of a process's resident mapped memory (``RssFile``) belongs
    to, in bytes, from /proc/<pid>/smaps, largest first: the search index's files are
    named by their folder and suffix (``search/…/.pst``), the others by their path.
    Empty when the process is gone."""
    try:
        text = Path(f"/proc/{pid}/smaps").read_text()
    except OSError:
        return {}
    sizes: dict[str, int] = {}
    name = None
    for line in text.splitlines():
        fields = line.split()
        if fields and "-" in fields[0] and not fields[0].endswith(":"):  # a mapping
            path = fields[5] if len(fields) > 5 else ""
            name = None if not path.startswith("/") else (
                f"search/…/{Path(path).suffix}" if "/search/" in path else path)
        elif name is not None and fields[:1] == ["Rss:"]:
            sizes[name] = sizes.get(name, 0) + int(fields[1]) * 1024
    largest = sorted(sizes.items(), key=lambda item: -item[1])[:top]
    return {path: size for path, size in largest if size}


class Server:
    """gunicorn serving ``oversight:create_app()`` on one instance (see the module doc)."""

    def __init__(self, instance: Instance, *, workers: int = 2, port: int | None = None,
                 indexer: bool = False, env: dict[str, str] | None = None,
                 timeout: int = 30, app: str = "oversight:create_app()"):
        self.instance = instance
        self.workers = workers
        self.port = port or free_port()
        self.indexer = indexer
        self.extra_env = dict(env or {})
        self.timeout = timeout
        #: the WSGI app gunicorn serves (the load benchmark adds a bare baseline app)
        self.app = app
        self.log_path = instance.path / "gunicorn.log"
        self._master: subprocess.Popen | None = None
        self._indexer: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        """The master's pid (also the process group id), while running."""
        return self._master.pid if self._master is not None else None

    def start(self, wait: float = 120) -> Server:
        """Start gunicorn (and the indexer); return once every worker is up and the
        server answers a page. Raises with the log's tail if it does not come up."""
        if self._master is not None:
            raise RuntimeError("server already running")
        env = self.instance.env(self.extra_env)
        cmd = [sys.executable, "-m", "gunicorn", "--workers", str(self.workers),
               "--bind", f"127.0.0.1:{self.port}", "--timeout", str(self.timeout),
               # gunicorn's control socket defaults to one path per user: two servers on
               # one machine would fight over it.
               "--no-control-socket",
               # as the README deploys it: each worker warms up before its first request
               "--config", "python:oversight.gunicorn_conf", self.app]
        with open(self.log_path, "ab") as log:
            # A process group of its own: its id is the master's pid, and every worker and
            # the indexer belong to it, so one killpg reaches them all at the same instant.
            self._master = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=log, stderr=log,
                                            stdin=subprocess.DEVNULL, process_group=0)
            try:
                if self.indexer:
                    self._indexer = subprocess.Popen(
                        [str(_oversight_bin()), "index", "--follow", "--poll", "0.5"],
                        env=env, cwd=ROOT, stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                        process_group=self._master.pid)
                self._wait_ready(wait)
            except BaseException:
                self.kill()
                raise
        return self

    def _wait_ready(self, wait: float) -> None:
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if self._master.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self._master.returncode}:\n"
                                   f"{self.log_tail()}")
            if len(self.worker_pids()) == self.workers and self._answers():
                return
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn not ready after {wait} s:\n{self.log_tail()}")

    def _answers(self) -> bool:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request("GET", "/")
            response = conn.getresponse()
            response.read()
            return response.status == 200
        except OSError:
            return False
        finally:
            conn.close()

    def worker_pids(self) -> list[int]:
        """The gunicorn workers now alive (children of the master), sorted."""
        master = self.pid
        if master is None:
            return []
        pids = []
        for entry in os.listdir("/proc"):
            if entry.isdigit() and _parent_pid(int(entry)) == master:
                pids.append(int(entry))
        return sorted(pids)

    def rss(self) -> dict[int, int]:
        """{worker pid: resident bytes (VmRSS)} for the workers now alive."""
        return {pid: mem["rss"] for pid in self.worker_pids() if (mem := memory(pid))}

    def stop(self, timeout: float = 30) -> None:
        """Graceful stop (SIGTERM: workers finish their request); SIGKILL after timeout."""
        if self._master is None:
            return
        for proc in (self._indexer, self._master):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        try:
            for proc in (self._master, self._indexer):
                if proc is not None:
                    proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process group at once: master, workers and indexer."""
        if self._master is None:
            return
        try:
            os.killpg(self._master.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        for proc in (self._master, self._indexer):
            if proc is not None:
                proc.wait()
        self._master = self._indexer = None

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()


# --------------------------------------------------------------------------- client

@dataclass(frozen=True)
class Response:
    status: int
    text: str
    location: str
    seconds: float


class Client:
    """One browser against the server: cookies kept, redirects returned, not followed.
    A network failure raises (OSError or http.client.HTTPException)."""

    def __init__(self, base_url: str, *, timeout: float = 60):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.timeout = timeout
        self.cookies: dict[str, str] = {}
        self._conn: http.client.HTTPConnection | None = None

    def get(self, path: str) -> Response:
        return self.request("GET", path)

    def post(self, path: str, fields: dict[str, str] | None = None,
             files: list[tuple[str, str, bytes]] | None = None) -> Response:
        """POST a form; ``files`` are (field name, file name, content) and make it
        multipart."""
        return self.request("POST", path, fields or {}, files)

    def request(self, method: str, path: str, fields: dict[str, str] | None = None,
                files: list[tuple[str, str, bytes]] | None = None) -> Response:
        headers = {}
        body = None
        if files:
            body, headers["Content-Type"] = _multipart(fields or {}, files)
        elif fields is not None:
            body = urlencode(fields).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self._conn is None:
            self._conn = http.client.HTTPConnection(self.host, self.port,
                                                    timeout=self.timeout)
        start = time.perf_counter()
        try:
            self._conn.request(method, path, body=body, headers=headers)
            response = self._conn.getresponse()
            data = response.read()
        except BaseException:
            self.close()
            raise
        seconds = time.perf_counter() - start
        for header in response.headers.get_all("Set-Cookie") or []:
            self._keep(header)
        if response.will_close:
            self.close()
        return Response(response.status, data.decode("utf-8", "replace"),
                        response.getheader("Location", ""), seconds)

    def _keep(self, header: str) -> None:
        jar = SimpleCookie()
        jar.load(header)
        for name, morsel in jar.items():
            if not morsel.value or morsel["max-age"] == "0":
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = morsel.value

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()


def _multipart(fields: dict[str, str], files: list[tuple[str, str, bytes]]
               ) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    parts = []
    for name, value in fields.items():
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'
                     f"{value}\r\n".encode())
    for name, filename, content in files:
        parts.append(f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"; '
                     f'filename="{filename}"\r\nContent-Type: application/octet-stream'
                     f"\r\n\r\n".encode() + content + b"\r\n")
    parts.append(f"--{boundary}--\r\n".encode())
    return b"".join(parts), f"multipart/form-data; boundary={boundary}"


# --------------------------------------------------------------------------- the app's pages

def csrf_token(html: str) -> str:
    """The CSRF token of the first form on a page (every form of a page carries the same)."""
    for tag in re.findall(r'<input[^>]*name="csrf_token"[^>]*>', html):
        value = re.search(r'value="([^"]+)"', tag)
        if value:
            return value.group(1)
    raise ValueError("no CSRF token on the page")


def complaint_form_fields(html: str, organ: str = "朝阳分局") -> dict[str, str]:
    """What a person fills in on the complaint form page (``GET /complaints/new``) before
    the narrative: the token, a new one-time key, an anonymous complaint to ``organ`` (its
    name as listed) in the first category of that organ's policy pack."""
    option = re.search(r'<option data-pack="([^"]+)" value="(\d+)">[\s\u3000]*'
                       + re.escape(organ) + "</option>", html)
    if option is None:
        raise ValueError(f"organ {organ} not on the complaint form")
    group = re.search(r'<optgroup label="' + re.escape(option.group(1))
                      + r'"><option value="([^"]+)"', html)
    if group is None:
        raise ValueError(f"no category for organ {organ}")
    return {"csrf_token": csrf_token(html), "submission_key": secrets.token_urlsafe(24),
            "kind": "complaint", "anonymous": "y", "organ_id": option.group(2),
            "category_code": group.group(1), "officer_badge": "BJ10001",
            "incident_place": "三里屯路口"}


def receipt(html: str) -> tuple[str, str] | None:
    """(case number, access code) from a receipt page; None when the page is not one
    (or the form was a repeat, whose receipt shows no code)."""
    number = re.search(r'id="case-number">([^<]+)<', html)
    code = re.search(r'id="access-code">([^<]+)<', html)
    if number is None or code is None:
        return None
    return number.group(1).strip(), code.group(1).strip()


def login(client: Client, username: str, password: str) -> Response:
    """Sign a staff user in (the login page, then its form); a 302 means success."""
    token = csrf_token(client.get("/staff/login").text)
    return client.post("/staff/login", {"csrf_token": token, "username": username,
                                        "password": password, "next": ""})


def track(client: Client, number: str, code: str) -> Response:
    """Open a case on the public tracking page: the form (a 302 to ``/track/case`` means
    the code was right), then the case page it leads to. Returns the last response."""
    token = csrf_token(client.get("/track").text)
    response = client.post("/track", {"csrf_token": token, "number": number, "code": code})
    if response.status != 302:
        return response
    return client.get("/track/case")
