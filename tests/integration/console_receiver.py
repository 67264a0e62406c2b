#!/usr/bin/python3
"""Receives a container's pty master over an OCI --console-socket and copies its output.

Usage: console_receiver.py SOCKET_PATH OUTPUT_FILE [TIMEOUT_SECONDS]

Listens on the unix socket SOCKET_PATH, accepts one connection, takes the file
descriptor sent with SCM_RIGHTS, writes "fd-received\n" to OUTPUT_FILE.fd, then copies
everything read from the master into OUTPUT_FILE until the slave side is closed (EIO)
or the timeout passes. Exits 0 when a descriptor was received, 1 otherwise.
"""
import os
import select
import socket
import sys
import time


def main() -> int:
    path, out_path = sys.argv[1], sys.argv[2]
    deadline = time.monotonic() + (float(sys.argv[3]) if len(sys.argv) > 3 else 60.0)
    srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    srv.bind(path)
    srv.listen(1)
    srv.settimeout(max(0.1, deadline - time.monotonic()))
    try:
        conn, _ = srv.accept()
    except socket.timeout:
        print("console_receiver: nobody connected", file=sys.stderr)
        return 1
    conn.settimeout(max(0.1, deadline - time.monotonic()))
    _, fds, _, _ = socket.recv_fds(conn, 4096, 4)
    conn.close()
    srv.close()
    if not fds:
        print("console_receiver: connection carried no file descriptor", file=sys.stderr)
        return 1
    master = fds[0]
    for extra in fds[1:]:
        os.close(extra)
    with open(out_path + ".fd", "w") as f:
        f.write("fd-received\n")
    with open(out_path, "ab", buffering=0) as out:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if not ready:
                continue
            try:
                data = os.read(master, 4096)
            except OSError:  # EIO: every slave fd is closed
                break
            if not data:
                break
            out.write(data)
    os.close(master)
    return 0


if __name__ == "__main__":
    sys.exit(main())
