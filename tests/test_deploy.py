"""The deployment in ``deploy/``: nginx balancing two ``serve.py`` on one PostgreSQL.

Everything runs on 127.0.0.1: a throwaway PostgreSQL from
``deploy/postgres.sh``, two real ``serve.py --trusted-proxy 127.0.0.1`` on
that database, and Debian's nginx with ``deploy/nginx.conf.template``. The
seed's task-20 flow runs through nginx; then what the deployment promises:
both backends serve, a session made on one works on the other, the app's
cross-site check still sees the right ``Host`` through the proxy, and
waitress believes ``X-Forwarded-*`` only from the proxy. Last,
``deploy/run.sh`` itself is started, used and stopped with Ctrl-C.

Without nginx or PostgreSQL these tests are skipped, saying what is
missing; in CI (``CI=true``) they fail instead, so CI can never skip them.
"""

import contextlib
import http.client
import importlib.util
import json
import os
import re
import shutil
import signal
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
import test_serve as seed  # the seed's task-20 functions; they request ``seed.URL``
from conftest import ROOT, Server, unavailable
from helpers import CHROME
from sqlalchemy import create_engine, text

from wsgiauth.db import DB
from wsgiauth.emails import normalize_email

DEPLOY = ROOT / "deploy"
TIMEOUT = seed.TIMEOUT
PROXY_ENV = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
# Another loopback address: a client that is not the trusted proxy.
STRANGER = "127.0.0.2"


# --- what the machine must have ---------------------------------------------------


def nginx_binary() -> str:
    """Return the nginx program, or skip (fail in CI) if there is none."""
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        unavailable("nginx is not installed (Debian: apt-get install nginx-light)")
    assert found is not None
    return found


def require_stranger_address() -> None:
    """Skip (fail in CI) if this machine cannot send from 127.0.0.2."""
    with socket.socket() as probe:
        try:
            probe.bind((STRANGER, 0))
        except OSError as error:
            unavailable(f"cannot send from {STRANGER}: {error}")


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep every request on 127.0.0.1, whatever proxy the environment names."""
    for name in PROXY_ENV:
        monkeypatch.delenv(name, raising=False)


# --- PostgreSQL, nginx and the deployment ----------------------------------------------


def free_port() -> int:
    """Return a port of 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float = 10) -> bool:
    """Poll ``condition`` until it holds (True) or ``timeout`` seconds pass (False)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def accepts(port: int) -> bool:
    """Tell whether something accepts connections on 127.0.0.1:``port``."""
    with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
        return True
    return False


def render_nginx_conf(prefix: Path, listen_port: int, app_ports: tuple[int, int]) -> str:
    """Fill in ``deploy/nginx.conf.template``, as ``deploy/run.sh`` does."""
    template = string.Template((DEPLOY / "nginx.conf.template").read_text())
    # safe_substitute leaves nginx's own $variables alone.
    conf = template.safe_substitute(
        LISTEN_PORT=str(listen_port),
        APP_PORT_1=str(app_ports[0]),
        APP_PORT_2=str(app_ports[1]),
        PREFIX=str(prefix),
    )
    assert "${" not in conf, "a placeholder of the template was not filled in"
    return conf


@contextlib.contextmanager
def nginx(prefix: Path, app_ports: tuple[int, int]) -> Iterator[str]:
    """Run nginx in ``prefix`` in front of ``app_ports``; yield its URL; stop it."""
    program = nginx_binary()
    prefix.mkdir()
    listen_port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(render_nginx_conf(prefix, listen_port, app_ports))
    with (prefix / "stderr.log").open("w") as stderr:
        process = subprocess.Popen(
            [program, "-c", str(conf), "-p", str(prefix), "-e", "stderr"],
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
        )
    try:
        if not wait_for(lambda: process.poll() is not None or accepts(listen_port)):
            raise RuntimeError("nginx did not start in time")
        if process.poll() is not None:
            logs = [prefix / "stderr.log", prefix / "error.log"]
            raise RuntimeError(
                "nginx did not start:\n" + "".join(p.read_text() for p in logs if p.exists())
            )
        yield f"http://127.0.0.1:{listen_port}"
    finally:
        process.terminate()  # SIGTERM: nginx's fast shutdown
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=15)


def port_of(url: str) -> int:
    """Return the port of ``http://host:port``."""
    return int(url.rsplit(":", 1)[1])


@dataclass
class Deployment:
    """The running deployment: nginx's URL, the two servers, nginx's directory."""

    url: str
    servers: tuple[Server, Server]
    prefix: Path

    def access_lines(self) -> list[list[tuple[str, str, str]]]:
        """Return each backend's access-log lines (method, path, status)."""
        return [seed.access_lines(server.log()) for server in self.servers]

    def nginx_access_log(self) -> list[str]:
        """Return nginx's access-log lines."""
        path = self.prefix / "access.log"
        return path.read_text().splitlines() if path.exists() else []


@pytest.fixture
def deployment(pg_url: str, tmp_path: Path) -> Iterator[Deployment]:
    """Two ``serve.py --trusted-proxy 127.0.0.1`` on one database, nginx in front."""
    nginx_binary()  # skip (fail in CI) before starting the servers
    with contextlib.ExitStack() as stack:
        servers = []
        # One after the other: each creates the tables it does not find.
        for _ in range(2):
            server = Server(pg_url, "--trusted-proxy", "127.0.0.1")
            stack.callback(stop_server, server)
            servers.append(server)
        first, second = servers
        url = stack.enter_context(
            nginx(tmp_path / "nginx", (port_of(first.url), port_of(second.url)))
        )
        yield Deployment(url, (first, second), tmp_path / "nginx")
        for server in servers:
            assert "Traceback" not in server.log(), server.log()


def stop_server(server: Server) -> None:
    """Stop a server if it still runs (checking that it exits cleanly)."""
    if server.process.poll() is None:
        server.stop()


# --- 1. the seed's task 20, through nginx ------------------------------------------------


def test_seed_task_20_through_nginx_is_balanced_over_both_backends(
    deployment: Deployment, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(seed, "URL", deployment.url)
    seed.seed_main()

    # Every request of the flow was answered by one backend or the other...
    expected = Counter(seed.SEED_MAIN_REQUESTS)
    assert wait_for(lambda: sum(map(Counter, deployment.access_lines()), Counter()) == expected), (
        deployment.access_lines()
    )
    # ...and both had their share (nginx's round robin).
    first, second = deployment.access_lines()
    assert first and second, (first, second)
    # nginx logs a request once it has answered it.
    assert wait_for(lambda: len(deployment.nginx_access_log()) == len(seed.SEED_MAIN_REQUESTS)), (
        deployment.nginx_access_log()
    )


def test_a_session_made_on_one_backend_works_on_the_other(deployment: Deployment) -> None:
    first, second = (server.url for server in deployment.servers)
    form = {"email": seed.EMAIL, "password": seed.PASSWD}
    with requests.Session() as http:
        http.trust_env = False
        assert http.post(f"{first}/users", data=form, timeout=TIMEOUT).status_code == 200
        logged_in = http.post(f"{first}/sessions", data=form, timeout=TIMEOUT)
        assert logged_in.status_code == 200
        cookies = {"session_id": logged_in.cookies["session_id"]}
        profile = http.get(f"{second}/profile", cookies=cookies, timeout=TIMEOUT)
        assert (profile.status_code, profile.json()) == (200, {"email": seed.EMAIL})
        # Logging out on the second ends the session on the first too.
        logged_out = http.delete(
            f"{second}/sessions", cookies=cookies, allow_redirects=False, timeout=TIMEOUT
        )
        assert logged_out.status_code == 303
        assert http.get(f"{first}/profile", cookies=cookies, timeout=TIMEOUT).status_code == 403


def test_bodies_up_to_the_cap_pass_nginx_and_larger_ones_do_not(deployment: Deployment) -> None:
    url = deployment.url
    # Under nginx's 1 MiB: buffered in memory, passed on; the app answers
    # its own JSON 413 (over 64 KiB).
    large = requests.post(
        f"{url}/users", data={"email": "big@example.com", "password": "x" * 900_000}, timeout=60
    )
    assert (large.status_code, large.headers["Content-Type"]) == (413, seed.JSON)
    # Over it: nginx's own 413; no backend sees the request.
    huge = requests.post(
        f"{url}/users", data={"email": "big@example.com", "password": "x" * 2_000_000}, timeout=60
    )
    assert huge.status_code == 413
    assert huge.headers["Content-Type"].startswith("text/html")
    assert wait_for(lambda: sum(map(len, deployment.access_lines())) == 1)
    assert [line for lines in deployment.access_lines() for line in lines] == [
        ("POST", "/users", "413")
    ]


def test_a_reset_link_leaves_no_token_in_nginx_access_log(deployment: Deployment) -> None:
    """A person opens the mailed link through nginx: its access log keeps no token.

    nginx's default log format, "combined", writes the request line, query
    and all: whoever read the log could set the password.
    """
    url = deployment.url
    form = {"email": "link@example.com", "password": "pw"}
    assert requests.post(f"{url}/users", data=form, timeout=TIMEOUT).status_code == 200
    asked = requests.post(f"{url}/reset_password", data={"email": form["email"]}, timeout=TIMEOUT)
    token = asked.json()["reset_token"]
    # The link, as a browser opens it from a webmail's page.
    opened = requests.get(
        f"{url}/reset_password?reset_token={token}",
        headers={"Accept": CHROME, "Sec-Fetch-Site": "cross-site"},
        allow_redirects=False,
        timeout=TIMEOUT,
    )
    assert wait_for(lambda: len(deployment.nginx_access_log()) == 3), deployment.nginx_access_log()
    log = deployment.nginx_access_log()
    assert token not in "\n".join(log), log[-1]
    # The line nginx writes now: the path and the status, never a query.
    assert re.fullmatch(
        r'127\.0\.0\.1 \[[^]]+\] "GET /reset_password HTTP/1\.1" 303 \d+ \d+\.\d{3}', log[-1]
    ), log[-1]
    assert opened.status_code == 303


# --- 2. the host, scheme and address the app sees through nginx -------------------------------


def post_users(url: str, headers: dict[str, str], number: int) -> requests.Response:
    """Register a new user with ``headers`` added to the request."""
    form = {"email": f"user{number}@example.com", "password": "pw"}
    return requests.post(f"{url}/users", data=form, headers=headers, timeout=TIMEOUT)


def test_the_cross_site_check_works_through_nginx(deployment: Deployment) -> None:
    url = deployment.url  # http://127.0.0.1:<port>
    # A browser's form on the service's own page: Origin is nginx's host and
    # port, which the app sees as Host only if nginx forwards it with the port.
    assert post_users(url, {"Origin": url}, 1).status_code == 200
    assert post_users(url, {"Origin": url, "Sec-Fetch-Site": "same-origin"}, 2).status_code == 200
    for number, origin in enumerate(
        ["http://evil.example", url.rsplit(":", 1)[0], "null"], start=3
    ):
        refused = post_users(url, {"Origin": origin}, number)
        assert refused.status_code == 403, origin
        assert refused.headers["Content-Type"] == seed.JSON
    # A client cannot make nginx pass on a host of its choosing: nginx sets
    # X-Forwarded-Host itself.
    forged = post_users(
        url, {"Origin": "http://evil.example", "X-Forwarded-Host": "evil.example"}, 9
    )
    assert forged.status_code == 403


def request_from(
    address: str, url: str, method: str, path: str, headers: dict[str, str], body: str = ""
) -> tuple[int, bytes]:
    """Send one request to ``url`` from the local ``address``; return status and body."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", port_of(url), timeout=TIMEOUT, source_address=(address, 0)
    )
    try:
        if body:
            headers = {**headers, "Content-Type": "application/x-www-form-urlencoded"}
        connection.request(method, path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


FORGED = {
    "X-Forwarded-For": "203.0.113.9",
    "X-Forwarded-Proto": "https",
    "X-Forwarded-Host": "evil.example",
    "Forwarded": "for=198.51.100.7;proto=https;host=evil.example",
}


def test_serve_believes_forwarded_headers_only_from_the_trusted_proxy(db_url: str) -> None:
    """The app's cross-site check shows which Host it was given."""
    require_stranger_address()
    # Origin and X-Forwarded-Host agree: only a believed header makes this
    # request same-site.
    headers = {"Origin": "http://evil.example", "X-Forwarded-Host": "evil.example"}

    def register(url: str, address: str, number: int) -> int:
        body = f"email=trust{number}%40example.com&password=pw"
        return request_from(address, url, "POST", "/users", headers, body)[0]

    with Server(db_url, "--trusted-proxy", "127.0.0.1") as trusting:
        assert register(trusting.url, "127.0.0.1", 1) == 200  # the proxy: believed
        assert register(trusting.url, STRANGER, 2) == 403  # anyone else: dropped
        log = trusting.stop()
    with Server(db_url) as plain:
        assert register(plain.url, "127.0.0.1", 3) == 403  # no --trusted-proxy: never
        log += plain.stop()
    assert "Traceback" not in log


def echo(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
    """A WSGI app that answers with what waitress put in its environ."""
    seen = {
        name: environ[name]
        for name in ("REMOTE_ADDR", "wsgi.url_scheme", "HTTP_HOST")
        if name in environ
    }
    seen["forwarded"] = sorted(name for name in environ if "FORWARDED" in name)
    body = json.dumps(seen).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


@contextlib.contextmanager
def echo_server(*args: str) -> Iterator[str]:
    """Serve ``echo`` in this process with ``serve.py``'s waitress options; yield its URL."""
    from waitress.server import create_server

    serve = seed.load_serve()
    server = create_server(echo, **serve.server_options(serve.parse_args(["--port", "0", *args])))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        # Closed in the server's own thread, between two polls: closed from
        # here, its poll() would fail on the closed socket. If an earlier
        # wake-up runs the close first, the pipe is closed under our own
        # wake-up byte, and that is fine.
        with contextlib.suppress(OSError):
            server.trigger.pull_trigger(server.close)
        server.task_dispatcher.shutdown()
        thread.join(timeout=5)


def echoed(address: str, url: str, headers: dict[str, str]) -> dict[str, Any]:
    """What the echo app saw of ``GET /`` sent from ``address`` to ``url``."""
    status, body = request_from(address, url, "GET", "/", headers)
    assert status == 200, body
    result: dict[str, Any] = json.loads(body)
    return result


def test_waitress_sees_the_client_through_nginx_and_forgeries_nowhere(tmp_path: Path) -> None:
    require_stranger_address()
    with echo_server("--trusted-proxy", "127.0.0.1") as app_url:
        app_port = port_of(app_url)
        with nginx(tmp_path / "nginx", (app_port, app_port)) as url:
            # Through nginx, from a client at 127.0.0.2 that forges every
            # header: the app sees the client's real address, the scheme
            # and host it really used.
            seen = echoed(STRANGER, url, FORGED)
            assert seen["REMOTE_ADDR"] == STRANGER
            assert seen["wsgi.url_scheme"] == "http"
            assert seen["HTTP_HOST"] == f"127.0.0.1:{port_of(url)}"
            # The client's own Forwarded header was dropped by waitress.
            assert "HTTP_FORWARDED" not in seen["forwarded"]

        # Straight to waitress from 127.0.0.2: nothing forwarded is believed
        # or even passed on to the app.
        seen = echoed(STRANGER, app_url, FORGED)
        assert seen == {
            "REMOTE_ADDR": STRANGER,
            "wsgi.url_scheme": "http",
            "HTTP_HOST": f"127.0.0.1:{app_port}",
            "forwarded": [],
        }
        # From the trusted address (where nginx runs), the headers are the
        # proxy's word.
        seen = echoed("127.0.0.1", app_url, FORGED)
        assert seen["REMOTE_ADDR"] == "203.0.113.9"
        assert seen["wsgi.url_scheme"] == "https"
        assert seen["HTTP_HOST"] == "evil.example"
        assert "HTTP_FORWARDED" not in seen["forwarded"]  # not a header we trust

    # Without --trusted-proxy, waitress believes no one.
    with echo_server() as app_url:
        seen = echoed("127.0.0.1", app_url, FORGED)
        assert seen["REMOTE_ADDR"] == "127.0.0.1"
        assert seen["wsgi.url_scheme"] == "http"
        assert seen["HTTP_HOST"] == f"127.0.0.1:{port_of(app_url)}"


def test_server_options_trust_only_the_given_proxy_and_its_three_headers() -> None:
    from waitress.adjustments import Adjustments

    serve = seed.load_serve()
    plain = serve.server_options(serve.parse_args([]))
    assert plain == {
        "host": "127.0.0.1",
        "port": 5000,
        "threads": 4,
        "max_request_body_size": serve.MAX_UPLOAD_BYTES,
        # Set deliberately against Slowloris (SECURITY.md, "idle connections").
        "connection_limit": serve.CONNECTION_LIMIT,
        "channel_timeout": serve.CHANNEL_TIMEOUT_SECONDS,
        "cleanup_interval": serve.CLEANUP_INTERVAL_SECONDS,
    }
    options = serve.server_options(serve.parse_args(["--trusted-proxy", "127.0.0.1"]))
    assert options == {
        **plain,
        "trusted_proxy": "127.0.0.1",
        "trusted_proxy_count": 1,
        "trusted_proxy_headers": {"x-forwarded-for", "x-forwarded-proto", "x-forwarded-host"},
        "clear_untrusted_proxy_headers": True,
    }
    # waitress takes them as they are.
    adjustments = Adjustments(**options)
    assert adjustments.trusted_proxy == "127.0.0.1"
    assert adjustments.trusted_proxy_headers == options["trusted_proxy_headers"]
    assert adjustments.clear_untrusted_proxy_headers is True
    assert Adjustments(**plain).trusted_proxy is None
    # An IPv6 address is written as waitress will compare it.
    ipv6 = serve.server_options(serve.parse_args(["--trusted-proxy", "0:0::1"]))
    assert ipv6["trusted_proxy"] == "::1"


@pytest.mark.parametrize("value", ["localhost", "*", "127.0.0.1/8", ""])
def test_serve_refuses_a_trusted_proxy_that_is_not_an_address(
    value: str, capsys: pytest.CaptureFixture[str]
) -> None:
    serve = seed.load_serve()
    with pytest.raises(SystemExit) as exited:
        serve.parse_args(["--trusted-proxy", value])
    assert exited.value.code == 2
    assert "not an IP address" in capsys.readouterr().err


# --- 3. deploy/run.sh ------------------------------------------------------------------------


def test_run_sh_starts_everything_and_ctrl_c_stops_everything(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    nginx_binary()
    check = subprocess.run(
        [DEPLOY / "postgres.sh", "check"], capture_output=True, text=True, timeout=30
    )
    if check.returncode != 0:
        unavailable(f"PostgreSQL cannot be started here: {check.stderr.strip()}")
    environment = {**os.environ, "PYTHON": sys.executable}
    for name in PROXY_ENV:
        environment.pop(name, None)
    script = subprocess.Popen(
        [DEPLOY / "run.sh", "0"],
        env=environment,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        # Let the script's shell trap SIGINT even if pytest runs with it
        # ignored (started in the background); its own session, so that a
        # last-resort kill reaches its children too.
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        start_new_session=True,
    )
    output: list[str] = []
    started = threading.Event()

    def read() -> None:
        assert script.stdout is not None
        for line in script.stdout:
            output.append(line)
            if "Ctrl-C stops everything" in line:
                started.set()
        started.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        assert started.wait(timeout=120) and script.poll() is None, "".join(output)
        banner = "".join(output)
        found = re.search(r"wsgiauth is on (http://127\.0\.0\.1:(\d+))", banner)
        assert found, banner
        ports = [int(port) for port in re.findall(r"127\.0\.0\.1:(\d+)", banner)]
        assert len(set(ports)) == 4, banner  # nginx, two serve.py, PostgreSQL
        monkeypatch.setattr(seed, "URL", found[1])
        seed.seed_main()

        script.send_signal(signal.SIGINT)  # Ctrl-C
        assert script.wait(timeout=60) == 130, "".join(output)
    finally:
        if script.poll() is None:
            os.killpg(script.pid, signal.SIGKILL)
            script.wait(timeout=30)
    time.sleep(0.1)  # let the reader take the last lines
    log = "".join(output)
    assert "run.sh: stopped" in log, log
    assert "Traceback" not in log
    # Nothing it started still listens, and its directories are gone.
    assert not [port for port in ports if accepts(port)], log
    for directory in re.findall(r"(/\S+/wsgiauth-deploy[\w.-]*)", log):
        assert not Path(directory).exists(), directory


# --- 4. GET /health, as PostgreSQL stops and starts ---------------------------------------


def health(url: str) -> tuple[int, dict[str, str]]:
    """Ask ``url``'s GET /health; return the status and the JSON body."""
    answer = requests.get(f"{url}/health", timeout=TIMEOUT)
    assert answer.headers["Content-Type"] == seed.JSON
    return answer.status_code, answer.json()


def test_health_is_200_while_the_database_answers(db_url: str) -> None:
    with Server(db_url) as server:
        assert health(server.url) == (200, {"status": "ok"})
        assert requests.head(f"{server.url}/health", timeout=TIMEOUT).status_code == 200
        assert "Traceback" not in server.stop()


@contextlib.contextmanager
def own_postgres() -> Iterator[tuple[str, Callable[[str], None]]]:
    """A PostgreSQL of this test's own, which it may stop and start.

    Yields its URL and ``control("stop" | "resume")``. Not the session's
    shared server: the other tests need that one running.
    """
    script = DEPLOY / "postgres.sh"
    check = subprocess.run([script, "check"], capture_output=True, text=True, timeout=30)
    if check.returncode != 0:
        unavailable(f"PostgreSQL cannot be started here: {check.stderr.strip()}")
    # As in conftest's postgres fixture: a directory the postgres user can enter.
    directory = tempfile.mkdtemp(prefix="wsgiauth-test-pg-health-")

    def control(command: str) -> None:
        done = subprocess.run(
            [script, command, directory], capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr

    try:
        started = subprocess.run(
            [script, "start", directory], capture_output=True, text=True, timeout=120
        )
        assert started.returncode == 0, started.stderr
        yield started.stdout.strip(), control
    finally:
        subprocess.run([script, "stop", directory], capture_output=True, timeout=60)
        shutil.rmtree(directory, ignore_errors=True)


def test_health_goes_200_503_200_as_postgresql_stops_and_starts() -> None:
    form = {"email": "health@example.com", "password": "pw"}
    with own_postgres() as (url, control), Server(url) as server:
        assert health(server.url) == (200, {"status": "ok"})
        assert requests.post(f"{server.url}/users", data=form, timeout=TIMEOUT).status_code == 200

        control("stop")
        assert health(server.url) == (
            503,
            {"status": "unavailable", "message": "the database does not answer"},
        )
        control("resume")
        assert health(server.url) == (200, {"status": "ok"})

        # Stopped and started with no request in between: the pool holds
        # connections the old server closed. The first check after the
        # restart must already say 200, and the service must go on working.
        control("stop")
        control("resume")
        assert health(server.url) == (200, {"status": "ok"})
        logged_in = requests.post(f"{server.url}/sessions", data=form, timeout=TIMEOUT)
        assert logged_in.status_code == 200  # the user survived the restarts

        log = server.stop()
    assert "the database does not answer" in log
    assert "Traceback" not in log


# --- 5. deploy/ascii_domains.py: emails stored before domains were A-labels -----------------


def test_ascii_domains_rewrites_what_it_can_and_names_the_rest(db_url: str) -> None:
    spec = importlib.util.spec_from_file_location("ascii_domains", DEPLOY / "ascii_domains.py")
    assert spec is not None and spec.loader is not None
    ascii_domains = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(ascii_domains)
    db = DB(db_url)
    # What an earlier version stored: the domain as typed.
    stored = [
        "zo\u00eb@b\u00fccher.example",  # 1: rewritten
        "bob@b\u00fccher.example",  # 2: account 3 holds its form already
        "bob@xn--bcher-kva.example",  # 3
        "=?utf-8?q?victim?=@example.com",  # 4: no email any more
        "plain@example.com",  # 5: as it is
    ]
    engine = create_engine(db_url)
    with engine.begin() as connection:
        for email in stored:
            connection.execute(
                text("INSERT INTO users (email, hashed_password) VALUES (:email, 'x')"),
                {"email": email},
            )
    said = ascii_domains.rewrite(db)
    assert said[0] == "would 1: 'zoë@bücher.example' -> 'zoë@xn--bcher-kva.example'"
    assert said[1:] == [
        "left  2: 'bob@bücher.example' is 'bob@xn--bcher-kva.example', account 3's",
        "left  4: '=?utf-8?q?victim?=@example.com' is no email any more (email must be a plain"
        " address such as name@example.com: no display name, comment, quotes, angle brackets,"
        " group, list or encoded word)",
    ]
    with engine.connect() as connection:
        assert (
            connection.execute(text("SELECT email FROM users WHERE id = 1")).scalar_one()
            == (stored[0])
        )
    assert ascii_domains.rewrite(db, write=True)[0].startswith("wrote 1: ")
    with engine.connect() as connection:
        emails = connection.execute(text("SELECT email FROM users ORDER BY id")).scalars().all()
    assert emails == ["zo\u00eb@xn--bcher-kva.example", *stored[1:]]
    # A login finds the account again, from the address as its owner types it.
    assert db.find_user_by_email(normalize_email("Zo\u00eb@B\u00fccher.example")) is not None
    engine.dispose()
    db.dispose()
