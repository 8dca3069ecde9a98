"""The README shows the banner ``viesus serve`` really prints (port aside)."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

from tests.install.conftest import ROOT
from tests.install.test_wheel import read_until


def test_readme_banner_is_the_real_one() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```console\n\$ (viesus serve .*?)\n(.*?)```", readme, re.S)
    assert block is not None, "README has no `viesus serve` console example"
    argv = shlex.split(block.group(1))
    documented = block.group(2).splitlines()
    port = argv[argv.index("--port") + 1]
    argv[argv.index("--port") + 1] = "0"  # a free port; put back below
    server = subprocess.Popen(
        [sys.executable, "-m", "viesus", *argv[1:], "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        lines = read_until(server, "(Ctrl-C to stop)", timeout=60)
    finally:
        server.terminate()
        server.communicate(timeout=30)
    real_port = re.search(r"127\.0\.0\.1:(\d+)/", lines[0])
    assert real_port is not None, lines
    shown = [line.replace(f":{real_port.group(1)}/", f":{port}/") for line in lines]
    assert shown == documented
