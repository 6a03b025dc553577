"""Waiting for a client's connections to the daemon before it sends (shared by the test clients).

The daemon's outputs are PUSH sockets that never wait: an output with no connected consumer is dropped and
counted (README "Limits"). A client that connects its PULL and sends at once races its own connection: on a busy
machine the daemon can score the points before the PULL's handshake is done, and the outputs are gone. So a
client watches its sockets' handshakes (a monitor set up before `connect`) and sends only once they are done.
"""
import sys
import time

import zmq
from zmq.utils.monitor import recv_monitor_message

FAILED = zmq.EVENT_HANDSHAKE_FAILED_NO_DETAIL | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL | zmq.EVENT_HANDSHAKE_FAILED_AUTH
EVENTS = zmq.EVENT_HANDSHAKE_SUCCEEDED | FAILED | zmq.EVENT_DISCONNECTED


def watch(socket):
    """The monitor of `socket`'s handshakes and disconnections; call before `socket.connect`."""
    return socket.get_monitor_socket(EVENTS)


def wait(monitors, timeout, refused_ends_wait=False):
    """Waits until each (name, monitor) reports its handshake done, at most `timeout` seconds in all; returns the
    names that did not connect. A refused or dropped handshake is retried by libzmq and waited through, unless
    `refused_ends_wait` (clients that expect to be refused)."""
    deadline = time.monotonic() + timeout
    missing = []
    for name, monitor in monitors:
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not monitor.poll(int(left * 1000)):
                missing.append(name)
                break
            event = recv_monitor_message(monitor)["event"]
            if event == zmq.EVENT_HANDSHAKE_SUCCEEDED:
                break
            if refused_ends_wait:
                missing.append(name)
                break
    return missing


def wait_or_exit(monitors, timeout):
    """`wait`, exiting (status 1, the socket named) when a socket did not connect in time."""
    for name in wait(monitors, timeout):
        sys.exit(f"the {name} socket did not connect to the daemon within {timeout} s")
