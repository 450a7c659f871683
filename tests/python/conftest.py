"""Real XSOAR clients (demisto-sdk, demisto-py) against `xsoar-emu serve`.

One server per test session: in memory, on a free loopback port, with a fixed API key, started
from the repository root so it loads integrations/ and playbooks/ (SIGNL4 goes to the embedded
simulator). Every test asserts on what a client printed or returned.
"""

import os
import re
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
API_KEY = "xsoar-emu-python-tests-key"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
PROXY_VARS = ("http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")
XSOAR8_VARS = ("XSIAM_AUTH_ID", "DEMISTO_API_KEY_ID", "DEMISTO_USERNAME", "DEMISTO_PASSWORD")


def binary() -> Path:
    path = Path(os.environ.get("XSOAR_EMU_BIN", ROOT / "target" / "release" / "xsoar-emu"))
    if not path.is_file():
        pytest.exit(f"xsoar-emu binary not found at {path}; build it or set XSOAR_EMU_BIN", returncode=2)
    return path


def clean_env() -> dict:
    env = {k: v for k, v in os.environ.items() if k not in PROXY_VARS + XSOAR8_VARS}
    env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
    return env


class Server:
    def __init__(self, url: str, process: subprocess.Popen, log: Path):
        self.url = url
        self.process = process
        self.log = log

    def env(self) -> dict:
        """What a user exports before running the clients (rest-api.md §1)."""
        env = clean_env()
        env.update(
            DEMISTO_BASE_URL=self.url,
            DEMISTO_API_KEY=API_KEY,
            DEMISTO_SDK_IGNORE_CONTENT_WARNING="1",
            DEMISTO_SDK_SKIP_VERSION_CHECK="1",
            DEMISTO_SDK_OFFLINE_ENV="1",
            DEMISTO_VERIFY_SSL="false",
        )
        return env


def wait_healthy(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.time() + 60
    while time.time() < deadline:
        if process.poll() is not None:
            pytest.exit(f"the server exited with {process.returncode}:\n{log.read_text()}", returncode=2)
        try:
            req = urllib.request.Request(url + "/health/server", headers={"Authorization": API_KEY})
            with urllib.request.urlopen(req, timeout=2) as res:
                if res.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    pytest.exit(f"the server did not become healthy:\n{log.read_text()}", returncode=2)


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    log = tmp_path_factory.mktemp("server") / "server.log"
    env = clean_env()
    env["XSOAR_EMU_API_KEY"] = API_KEY
    env.setdefault("RUST_LOG", "warn")
    with open(log, "w") as out:
        process = subprocess.Popen(
            [str(binary()), "serve", "--in-memory", "--bind", "127.0.0.1:0"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    url = None
    deadline = time.time() + 60
    while url is None and time.time() < deadline:
        m = re.search(r"listening on (http://127\.0\.0\.1:\d+)", log.read_text())
        if m:
            url = m.group(1)
        elif process.poll() is not None:
            pytest.exit(f"the server exited with {process.returncode}:\n{log.read_text()}", returncode=2)
        else:
            time.sleep(0.1)
    if url is None:
        process.kill()
        pytest.exit(f"the server did not start:\n{log.read_text()}", returncode=2)
    wait_healthy(url, process, log)
    yield Server(url, process, log)
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    sys.stdout.write("\n--- server log ---\n" + log.read_text())


class Result:
    def __init__(self, proc: subprocess.CompletedProcess):
        self.returncode = proc.returncode
        self.stdout = ANSI.sub("", proc.stdout)
        self.stderr = ANSI.sub("", proc.stderr)
        self.output = self.stdout + self.stderr

    def __repr__(self) -> str:
        return f"rc={self.returncode}\n--- stdout ---\n{self.stdout}\n--- stderr ---\n{self.stderr}"


@pytest.fixture
def sdk(server, tmp_path):
    """Run `demisto-sdk ARGS...` in a scratch folder with the server's environment."""
    exe = Path(sys.executable).parent / "demisto-sdk"

    def run(*args: str, timeout: int = 240, env: dict | None = None) -> Result:
        proc = subprocess.run(
            [str(exe), *args],
            cwd=tmp_path,
            env={**server.env(), **(env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
            stdin=subprocess.DEVNULL,
        )
        return Result(proc)

    return run


@pytest.fixture
def pack(tmp_path) -> Path:
    """A copy of the test pack (Packs/EmuTest) in a scratch content folder."""
    dest = tmp_path / "content" / "Packs" / "EmuTest"
    shutil.copytree(HERE / "data" / "Packs" / "EmuTest", dest)
    return dest


@pytest.fixture
def api(server):
    """A typed demisto-py client."""
    import demisto_client

    for var in PROXY_VARS:
        os.environ.pop(var, None)
    return demisto_client.configure(base_url=server.url, api_key=API_KEY, verify_ssl=False)


@pytest.fixture
def playground(api) -> str:
    res = api.search_investigations(filter={"filter": {"type": [9], "page": 0}})
    assert res.total == 1
    return res.data[0].id
