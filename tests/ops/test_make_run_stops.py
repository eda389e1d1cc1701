"""`make run` stops whatever way it is told to: Ctrl-C at a terminal reaches honcho alone (it is
the foreground job), and a signal sent to make's own process group, as nohup, tmux or a script
do, is passed on by `dashboard.devrun foreground` to honcho's group, so nothing is left
running."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]

# Stands in for honcho: says it is up, and records the signal it was stopped with.
CHILD = """
import os, signal, sys, time
def stop(signum, frame):
    # Written aside and renamed, so the test never sees the file before its text is in it.
    with open(sys.argv[1] + ".part", "w") as part:
        part.write(signal.Signals(signum).name)
    os.replace(sys.argv[1] + ".part", sys.argv[1])
    sys.exit(130 if signum == signal.SIGINT else 143)
signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGTERM, stop)
print("up", flush=True)
time.sleep(600)
"""


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_make_s_process_group_stops_the_foreground_job(tmp_path, signum):
    marker = tmp_path / "stopped-with"
    # A session of its own, with no terminal: the way nohup or a script runs `make run`.
    devrun = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "dashboard.devrun",
            "foreground",
            sys.executable,
            "-c",
            CHILD,
            str(marker),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert devrun.stdout is not None
        assert devrun.stdout.readline().strip() == "up"

        os.killpg(devrun.pid, signum)  # the group of make and devrun; the child is in its own

        assert devrun.wait(timeout=60) == 0  # a failure limit, not a wait: it stops at once
        wait_until(marker.exists, timeout=30)
        assert marker.read_text() == signum.name
    finally:
        if devrun.poll() is None:
            devrun.kill()
            devrun.wait()
        if devrun.stdout is not None:
            devrun.stdout.close()


# Stands in for make: starts `devrun foreground` and waits for it; the test kills it alone.
MAKE = """
import subprocess, sys
subprocess.run([sys.executable, "-m", "dashboard.devrun", "foreground", *sys.argv[1:]])
"""


def test_make_killed_alone_still_stops_the_foreground_job(tmp_path):
    marker = tmp_path / "stopped-with"
    make = subprocess.Popen(
        [sys.executable, "-c", MAKE, sys.executable, "-c", CHILD, str(marker)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        assert make.stdout is not None
        assert make.stdout.readline().strip() == "up"

        make.kill()  # SIGKILL to make alone: nothing it could pass on itself
        make.wait(timeout=60)

        wait_until(marker.exists, timeout=60, message="the foreground job was left running")
        assert marker.read_text() == "SIGTERM"
    finally:
        if make.poll() is None:
            make.kill()
            make.wait()
        if make.stdout is not None:
            make.stdout.close()
