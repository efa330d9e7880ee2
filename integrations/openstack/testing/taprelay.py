"""Plays a VM's NIC for the OpenStack tests: opens the tap a VM manager
would hand QEMU (the vepa port's device) and a second tap, and copies
frames between them. The test moves the second tap into a namespace that
plays the guest, so the guest's kernel sends and receives through vepa's
port exactly as QEMU's tap backend would.

usage: taprelay.py VEPA_TAP GUEST_TAP   (in the namespace of VEPA_TAP;
prints "ready" once both are open)
"""

import fcntl
import os
import select
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def main():
    vepa_tap, guest_tap = sys.argv[1], sys.argv[2]
    a = open_tap(vepa_tap)
    b = open_tap(guest_tap)
    print("ready", flush=True)
    other = {a: b, b: a}
    while True:
        ready, _, _ = select.select([a, b], [], [])
        for fd in ready:
            frame = os.read(fd, 65536)
            try:
                os.write(other[fd], frame)
            except OSError:
                pass  # the far tap is down for a moment: a lost frame, as on a wire


if __name__ == "__main__":
    main()
