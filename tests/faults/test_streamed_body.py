"""A real server (`salesledger serve`, uvicorn) fed a 10 MB chunked body answers 413 at the
1 MiB limit, writes nothing, and keeps serving."""

import socket

import httpx
import pytest

from tests.faults.conftest import Server

pytestmark = pytest.mark.faults

TOKEN = "streamed-body-token-0123456789"


@pytest.fixture
def server(tmp_path):
    running = Server(f"sqlite:///{tmp_path / 'served.db'}", TOKEN)
    yield running.port
    running.stop()


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
