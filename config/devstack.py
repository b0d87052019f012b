"""`make run`: the whole portal on one machine (project wiring).

Starts a private Redis when REDIS_URL is unset, migrates, seeds the demo, then runs the web server,
a Celery worker and Celery beat as children. Ctrl-C (or SIGTERM) stops every process it started;
if any child dies, the others are stopped too.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from config.embedded_redis import redis_url

BASE_DIR = Path(__file__).resolve().parent.parent


def _banner(env: dict) -> None:
    port = env["PORT"]
    print("\n" + "=" * 72)
    print(f"  Partner Portal is starting on http://127.0.0.1:{port}/")
    credentials = BASE_DIR / ".demo" / "credentials.json"
    if credentials.exists():
        data = json.loads(credentials.read_text())
        print(f"  Demo logins (password: {data['password']}):")
        for role, email in data["users"].items():
            print(f"    {role:<10} {email}")
        print(f"  Everything else (client id and secret, API key, accounts): {credentials}")
    print("  Operations: /healthz, /readyz and /metrics (open to this machine in demo mode)")
    print("  Emails are printed below. Stop with Ctrl-C.")
    print("=" * 72 + "\n", flush=True)


def main() -> int:
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)

    with redis_url() as url:
        env = {**os.environ, "REDIS_URL": url, "PORT": os.environ.get("PORT", "8000")}
        env.setdefault("DEBUG", "1")
        env.setdefault("DEMO_MODE", "1")
        env.setdefault("SITE_URL", f"http://127.0.0.1:{env['PORT']}")
        python = sys.executable
        (BASE_DIR / ".run").mkdir(exist_ok=True)
        for step in (["migrate", "--noinput", "-v", "0"], ["seed_demo"]):
            if subprocess.run([python, "manage.py", *step], cwd=BASE_DIR, env=env).returncode != 0:
                print(f"manage.py {step[0]} failed", file=sys.stderr)
                return 1
        _banner(env)
        commands = {
            "web": [python, "manage.py", "runserver", f"127.0.0.1:{env['PORT']}", "--noreload"],
            # Threads: the tasks wait on the network (API calls, paced sync slots, webhooks).
            "worker": [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "worker",
                "-l",
                env.get("LOG_LEVEL", "info"),
                "--pool",
                "threads",
                "--concurrency",
                "8",
                "-Q",
                "celery,sync",
                "--without-mingle",
                "--without-gossip",
            ],
            "beat": [
                python,
                "-m",
                "celery",
                "-A",
                "config",
                "beat",
                "-l",
                env.get("LOG_LEVEL", "info"),
                "-s",
                str(BASE_DIR / ".run" / "celerybeat-schedule"),
            ],
        }
        children = {
            # Each child gets its own process group so that a terminal's Ctrl-C reaches us first and we
            # stop them in order.
            name: subprocess.Popen(cmd, cwd=BASE_DIR, env=env, start_new_session=True)
            for name, cmd in commands.items()
        }
        exit_code = 0
        try:
            while not stopping:
                for name, child in children.items():
                    if child.poll() is not None:
                        print(f"{name} exited with {child.returncode}; stopping the rest", file=sys.stderr)
                        stopping, exit_code = True, 1
                        break
                time.sleep(0.3)
        finally:
            for child in children.values():
                if child.poll() is None:
                    child.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + 10
            for child in children.values():
                try:
                    child.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    os.killpg(child.pid, signal.SIGKILL)
                    child.wait()
            print("Partner Portal stopped.", flush=True)
        return exit_code


if __name__ == "__main__":
    sys.exit(main())
