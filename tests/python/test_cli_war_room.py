"""`xsoar-emu run` with no lines at a terminal: an interactive war room.

Python's pty gives the binary a real terminal on standard input (and standard error, where
the prompt goes); standard output stays a pipe so what the war room prints can be read back.
"""

import os
import pty
import select
import subprocess
import time

from conftest import ROOT, binary, clean_env


class Stream:
    """What a file descriptor printed so far, read as needed."""

    def __init__(self, fd: int):
        self.fd = fd
        self.seen = bytearray()
        self.mark = 0

    def expect(self, needle: bytes, timeout: float = 20.0) -> bytes:
        """Read until `needle` appears after the previous match; return what came before it."""
        deadline = time.monotonic() + timeout
        while needle not in self.seen[self.mark:]:
            left = deadline - time.monotonic()
            assert left > 0, f"{needle!r} not seen in {bytes(self.seen[self.mark:])!r}"
            ready, _, _ = select.select([self.fd], [], [], left)
            if ready:
                chunk = os.read(self.fd, 4096)
                assert chunk, f"end of output before {needle!r}: {bytes(self.seen)!r}"
                self.seen.extend(chunk)
        at = self.seen.index(needle, self.mark)
        before = bytes(self.seen[self.mark:at])
        self.mark = at + len(needle)
        return before


def test_a_terminal_gets_a_prompt_results_per_line_and_the_context_at_ctrl_d():
    master, slave = pty.openpty()
    env = clean_env()
    env["RUST_LOG"] = "warn"
    proc = subprocess.Popen(
        [str(binary()), "run", "--virtual-clock"],
        stdin=slave,
        stderr=slave,
        stdout=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )
    os.close(slave)
    terminal, out = Stream(master), Stream(proc.stdout.fileno())
    try:
        assert b"Ctrl-D ends the session" in terminal.expect(b"war room 1> ")
        os.write(master, b"!Set key=Host value=ws-01\n")
        # Typed at the prompt, the line is not printed again: only its result.
        assert b"!Set" not in out.expect(b"Key Host set")
        terminal.expect(b"war room 1> ")
        os.write(master, b"!PrintContext outputformat=table\n")
        out.expect(b"Context key")
        out.expect(b"ws-01")
        terminal.expect(b"war room 1> ")
        os.write(master, b"!no_such_command\n")
        out.expect(b"Unsupported command or script: no_such_command")
        terminal.expect(b"war room 1> ")
        os.write(master, b"\x04")  # Ctrl-D at the start of a line: end of input
        rest, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(master)
    text = (bytes(out.seen) + rest).decode()
    assert "Context:" in text and '"Host": "ws-01"' in text, text
    # A command failed in the session: the exit code says so, as with lines given as arguments.
    assert proc.returncode == 1
