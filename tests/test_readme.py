"""The README, run as written: its curl session against a real server, and its commands.

Each ```console block of README.md is a session: a ``$ curl …`` line, then
what curl prints. The test runs every line, in order, against a real
``serve.py`` (``localhost:5000`` becomes the test server's address; the
cookie jar lives in a temporary directory) and compares what curl prints
with what the README shows:

- a plain answer must match exactly, the final newline included;
- after ``curl -i``, the status line and the headers the README shows must
  be among those received; a ``…`` line stands for the headers it leaves out
  (``Date``, ``Server`` and the like); the body after the blank line must
  match exactly;
- a value shown as ``0f5f2d5e-…`` (eight hex digits, a dash, an ellipsis)
  stands for a token only the server knows: it matches whatever token comes
  back, and in the later lines it is replaced by that token.
"""

import os
import re
import shlex
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from conftest import ROOT, Server, unavailable

README = ROOT / "README.md"
TIMEOUT = 10  # seconds, for every curl
ELLIPSIS = "…"
# A token the README cannot know, e.g. "0f5f2d5e-…", and what it stands for.
PLACEHOLDER = re.compile(r"[0-9a-f]{8}-…")
TOKEN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


@dataclass
class Step:
    """One ``$ curl …`` line of the README and the lines shown under it."""

    command: str
    shown: list[str]


def console_steps(markdown: str) -> list[Step]:
    """Return the steps of every ```console block of ``markdown``, in order."""
    steps: list[Step] = []
    for block in re.findall(r"^```console\n(.*?)^```$", markdown, re.MULTILINE | re.DOTALL):
        for line in block.splitlines():
            if line.startswith("$ "):
                steps.append(Step(line[2:], []))
            else:
                assert steps, f"output before the first command: {line!r}"
                steps[-1].shown.append(line)
    return steps


def readme_commands(markdown: str) -> list[str]:
    """Return the commands of the README's ```sh blocks, one per line."""
    blocks = re.findall(r"^```sh\n(.*?)^```$", markdown, re.MULTILINE | re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.strip()]


def matches(shown: str, received: str, tokens: dict[str, str]) -> bool:
    """Tell whether a line the README shows matches a line curl printed.

    A placeholder matches any token. The first time one matches, the token
    it stood for is remembered in ``tokens``, for the lines that follow.
    """
    pattern, new = "", []
    for piece in re.split(f"({PLACEHOLDER.pattern})", shown):
        if not PLACEHOLDER.fullmatch(piece):
            pattern += re.escape(piece)
        elif piece in tokens:
            pattern += re.escape(tokens[piece])
        else:
            pattern += f"({TOKEN})"
            new.append(piece)
    found = re.fullmatch(pattern, received)
    if found:
        tokens.update(zip(new, found.groups(), strict=True))
    return found is not None


def compare(step: Step, output: str, tokens: dict[str, str]) -> str | None:
    """Compare what curl printed with what the README shows; say how they differ."""
    if "-i" not in shlex.split(step.command):
        shown_text = "\n".join(step.shown) + "\n"
        shown_lines, received_lines = shown_text.split("\n"), output.split("\n")
        # Line by line, so that a placeholder matches a token, and every line
        # even after a difference, so that the token is remembered for the
        # steps that follow; then the count, so that a final newline counts.
        same = [matches(s, r, tokens) for s, r in zip(shown_lines, received_lines, strict=False)]
        if all(same) and len(shown_lines) == len(received_lines):
            return None
        return f"shows {shown_text!r}, curl printed {output!r}"

    # curl -i: the head (CRLF lines), a blank line, the body.
    head, _, body = output.partition("\r\n\r\n")
    while head.startswith("HTTP/1.1 100"):  # an interim "100 Continue"
        head, _, body = body.partition("\r\n\r\n")
    status_line, *header_lines = head.split("\r\n")
    blank = step.shown.index("") if "" in step.shown else len(step.shown)
    shown_head, shown_body = step.shown[:blank], step.shown[blank + 1 :]
    problems = []
    if shown_head[0] != status_line:
        problems.append(f"status line {status_line!r}, not {shown_head[0]!r}")
    for shown in shown_head[1:]:
        if shown != ELLIPSIS and not any(matches(shown, h, tokens) for h in header_lines):
            problems.append(f"no header {shown!r} among {header_lines!r}")
    if ELLIPSIS not in shown_head and len(shown_head) != len(header_lines) + 1:
        problems.append(f"headers {header_lines!r}, not only those shown")
    if blank < len(step.shown):
        shown_text = "\n".join(shown_body) + "\n"
        if shown_text != body:
            problems.append(f"body {body!r}, not {shown_text!r}")
    return "; ".join(problems) or None


def test_readme_console_session_gives_the_answers_shown(server: Server, tmp_path: Path) -> None:
    if shutil.which("curl") is None:
        unavailable("curl is not on PATH")
    steps = console_steps(README.read_text(encoding="utf-8"))
    assert steps, "README.md has no ```console block"
    address = server.url.removeprefix("http://")
    # No proxy may stand between curl and the test server.
    env = {**os.environ, "NO_PROXY": "*", "no_proxy": "*"}
    tokens: dict[str, str] = {}
    differences = []
    for number, step in enumerate(steps, 1):
        argv = shlex.split(step.command)
        assert argv[0] == "curl", f"step {number} is not curl: {step.command}"
        for placeholder, token in tokens.items():
            argv = [arg.replace(placeholder, token) for arg in argv]
        argv = [arg.replace("localhost:5000", address) for arg in argv]
        done = subprocess.run(
            [*argv, "--max-time", str(TIMEOUT)],
            cwd=tmp_path,  # for the cookie jar, cookies.txt
            env=env,
            capture_output=True,
            timeout=TIMEOUT + 10,
        )
        assert done.returncode == 0, f"step {number}, {step.command}: {done.stderr!r}"
        # Bytes, decoded without universal newlines: the CRLFs of a head stay.
        difference = compare(step, done.stdout.decode("utf-8"), tokens)
        if difference:
            differences.append(f"step {number}, $ {step.command}\n  {difference}")
    assert not differences, "\n".join(differences)
    assert "Traceback" not in server.stop()


def test_ci_runs_the_readme_test_command_as_written() -> None:
    commands = readme_commands(README.read_text(encoding="utf-8"))
    test_command = next(command for command in commands if " test" in command)
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert ci[-1] == test_command, f".ci/run ends with {ci[-1]!r}, not {test_command!r}"
