"""Tiny TCP tools for the tests, run inside namespaces:
  tcp_probe.py serve PORT [PORT...]   echo servers, "ready" once listening
  tcp_probe.py connect HOST PORT [SRC]  exit 0 when a byte comes back within 3 s
"""
import socket
import sys
import threading


def serve(ports):
    socks = []
    for p in ports:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", int(p)))
        s.listen(16)
        socks.append(s)

    def loop(s):
        while True:
            c, _ = s.accept()
            data = c.recv(100)
            c.sendall(data or b"?")
            c.close()

    for s in socks:
        threading.Thread(target=loop, args=(s,), daemon=True).start()
    print("ready", flush=True)
    threading.Event().wait()


def connect(host, port, src=None):
    try:
        c = socket.create_connection((host, int(port)), timeout=3,
                                     source_address=(src, 0) if src else None)
        c.settimeout(3)
        c.sendall(b"x")
        return 0 if c.recv(1) == b"x" else 1
    except OSError:
        return 1


if __name__ == "__main__":
    if sys.argv[1] == "serve":
        serve(sys.argv[2:])
    else:
        sys.exit(connect(*sys.argv[2:5]))
