#!/usr/bin/env python3
"""A network link with added latency, in user space (tc netem's job, for
kernels built without it): two TAP devices, one to become a test host's
interface and one to join the bridge, and every Ethernet frame carried from
one to the other DELAY_MS later, in order, in both directions.

    delay_link.py HOST_TAP BRIDGE_TAP DELAY_MS

Creates both devices, prints "ready" once they exist (the caller then moves
HOST_TAP into the host's namespace and BRIDGE_TAP into the bridge), and
forwards until killed. Frames are at most the MTU: TAP devices opened
without a virtio header get no offloaded super-frames.
"""
import collections
import fcntl
import os
import select
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    os.set_blocking(fd, False)
    return fd


def main():
    host_name, bridge_name, delay_ms = sys.argv[1], sys.argv[2], float(sys.argv[3])
    delay = delay_ms / 1000.0
    host, bridge = open_tap(host_name), open_tap(bridge_name)
    other = {host: bridge, bridge: host}
    queue = collections.deque()  # (due, destination fd, frame), due times non-decreasing
    print("ready", flush=True)
    while True:
        timeout = max(0.0, queue[0][0] - time.monotonic()) if queue else None
        readable, _, _ = select.select([host, bridge], [], [], timeout)
        now = time.monotonic()
        for fd in readable:
            while True:
                try:
                    frame = os.read(fd, 65536)
                except BlockingIOError:
                    break
                queue.append((now + delay, other[fd], frame))
        while queue and queue[0][0] <= time.monotonic():
            _, fd, frame = queue.popleft()
            try:
                os.write(fd, frame)
            except OSError:
                pass  # the device is down (a cut link): the frame is lost, as on a wire


if __name__ == "__main__":
    main()
