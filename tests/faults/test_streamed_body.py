"""A real server (`salesledger serve`, uvicorn) fed a 10 MB chunked body answers 413 at the
1 MiB limit, writes nothing, and keeps serving."""

import os
import socket
import subprocess
import sys
import time

import httpx
import pytest

pytestmark = pytest.mark.faults

TOKEN = "streamed-body-token-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'served.db'}",
        "SALESLEDGER_ADMIN_TOKEN": TOKEN,
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "api.cli", "serve", "--port", str(port), "--no-projectors"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert process.poll() is None, process.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)
    yield port
    process.terminate()
    process.wait(timeout=20)


def send_chunked(port: int, megabytes: int, extra_headers: str = "") -> tuple[int, int]:
    """POST /reps with a chunked body of `megabytes`; answer (status, bytes the server took)."""
    chunk = b"x" * 65_536
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        (
            "POST /reps HTTP/1.1\r\nHost: test\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {TOKEN}\r\nTransfer-Encoding: chunked\r\n{extra_headers}\r\n"
        ).encode()
    )
    sent = 0
    try:
        sock.sendall(b"%x\r\n%s\r\n" % (10, b'{"name": "'))
        while sent < megabytes * 1_048_576:
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
            sent += len(chunk)
        sock.sendall(b"0\r\n\r\n")
    except OSError:  # the server answered and closed the connection: it stopped reading
        pass
    answer = b""
    try:
        while b"\r\n" not in answer:
            data = sock.recv(65_536)
            if not data:
                break
            answer += data
    finally:
        sock.close()
    return int(answer.split(b" ", 2)[1]), sent


def test_a_real_server_refuses_a_chunked_body_at_the_limit_and_keeps_serving(server):
    for headers in ("", "Idempotency-Key: streamed-1\r\n"):
        status, _ = send_chunked(server, 10, headers)
        assert status == 413
    auth = {"Authorization": f"Bearer {TOKEN}"}
    base = f"http://127.0.0.1:{server}"
    assert httpx.get(f"{base}/events", headers=auth).json()["items"] == []  # nothing written
    small = httpx.post(f"{base}/reps", headers=auth, json={"name": "n", "level": "junior", "team": "t", "region": "r"})
    assert small.status_code == 201  # and the server carries on
