"""Hosts as Linux network namespaces on one bridge, as separate machines on one network.

Each host is a namespace `lthost-<name>` with one interface, `eth0`, whose other end (named
`lthost-<name>` too, in the root namespace) is plugged into the bridge `lthost-br`. The bridge
has an address of its own, so the test process (in the root namespace) reaches every host the
way an operator's laptop would. Cutting a host's link takes its bridge end down: packets are
dropped, no connection is closed, exactly like a pulled cable; putting it up again lets TCP's
retransmissions carry on.

Everything made here carries the `lthost-` prefix, so that `remove_stale()` can delete what a
crashed run left behind without touching anything else on the machine.
"""

import contextlib
import os
import signal
import subprocess
import time

PREFIX = "lthost-"
BRIDGE = f"{PREFIX}br"
SUBNET = "10.77.0"
BRIDGE_ADDRESS = f"{SUBNET}.254"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def refused() -> str | None:
    """Why this machine cannot run the hosts (not root, no `ip`, the kernel refuses network
    namespaces); None when it can. Probed by making and deleting one namespace."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI and `make test` run as root)"
    try:
        probe = f"{PREFIX}probe"
        _ip("netns", "del", probe, check=False)
        made = _ip("netns", "add", probe, check=False)
        if made.returncode != 0:
            return f"the kernel refused a network namespace: {made.stderr.strip()}"
        _ip("netns", "del", probe, check=False)
    except FileNotFoundError:
        return "the `ip` command (iproute2) is missing"
    return None


def remove_stale() -> None:
    """Delete namespaces and links with our prefix, with every process still in them."""
    listed = _ip("netns", "list", check=False).stdout.split()
    for name in listed:
        if name.startswith(PREFIX):
            kill_namespace(name)
            _ip("netns", "del", name, check=False)
    links = _ip("-o", "link", "show", check=False).stdout.splitlines()
    for line in links:
        parts = line.split(":")
        if len(parts) > 1:
            link = parts[1].strip().split("@")[0]
            if link.startswith(PREFIX):
                _ip("link", "del", link, check=False)


def kill_namespace(namespace: str) -> list[int]:
    """SIGKILL every process in the namespace (a machine losing power); returns their PIDs."""
    pids = [int(pid) for pid in _ip("netns", "pids", namespace, check=False).stdout.split()]
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and _ip("netns", "pids", namespace, check=False).stdout:
        time.sleep(0.05)
    return pids


class Network:
    def __init__(self, hosts: dict[str, int]):
        """`hosts` maps a host's name to the last byte of its address."""
        self.addresses = {name: f"{SUBNET}.{last}" for name, last in hosts.items()}

    def namespace(self, host: str) -> str:
        return f"{PREFIX}{host}"

    def link(self, host: str) -> str:
        return f"{PREFIX}{host}"[:15]  # Linux interface names are at most 15 bytes

    def create(self) -> None:
        remove_stale()
        _ip("link", "add", BRIDGE, "type", "bridge")
        _ip("addr", "add", f"{BRIDGE_ADDRESS}/24", "dev", BRIDGE)
        _ip("link", "set", BRIDGE, "up")
        for host, address in self.addresses.items():
            namespace = self.namespace(host)
            _ip("netns", "add", namespace)
            # The host's end is made inside its namespace: the root may have an eth0 of its own.
            veth = ["link", "add", self.link(host), "type", "veth", "peer", "name", "eth0"]
            _ip(*veth, "netns", namespace)
            _ip("link", "set", self.link(host), "master", BRIDGE, "up")
            _ip("-n", namespace, "addr", "add", f"{address}/24", "dev", "eth0")
            _ip("-n", namespace, "link", "set", "eth0", "up")
            _ip("-n", namespace, "link", "set", "lo", "up")

    def destroy(self) -> None:
        remove_stale()

    def run_in(self, host: str) -> list[str]:
        """The command prefix that runs a program on `host`."""
        return ["ip", "netns", "exec", self.namespace(host)]

    def cut(self, host: str) -> None:
        """Pull the host's cable: nothing goes in or out, nothing is closed."""
        _ip("link", "set", self.link(host), "down")

    def mend(self, host: str) -> None:
        _ip("link", "set", self.link(host), "up")

    def power_off(self, host: str) -> list[int]:
        """The host is gone at once: its cable is cut first (so that no process says goodbye
        to a peer), then every process on it is SIGKILLed."""
        self.cut(host)
        return kill_namespace(self.namespace(host))
