"""A client for HAProxy's admin socket, as the testbed and the benchmarks drive it.

HAProxy's admin socket in non-interactive mode answers one command per connection and then
closes it, so a command is: connect, send one line, read to end of file.
"""

import socket


def command(sock, text):
    """HAProxy's reply to one command (`show stat`, `set server B/S state drain`, ...) on the
    admin socket at path `sock`."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(sock))
        s.sendall(text.encode() + b"\n")
        chunks = []
        while True:
            data = s.recv(65536)
            if not data:
                return b"".join(chunks).decode()
            chunks.append(data)


def server_states(sock, backend):
    """{server: status} of `backend`'s servers from `show stat` (status is CSV column 17,
    counting from 0; the BACKEND and FRONTEND summary rows are left out)."""
    states = {}
    for line in command(sock, "show stat").splitlines():
        f = line.split(",")
        if len(f) > 17 and f[0] == backend and f[1] not in ("BACKEND", "FRONTEND"):
            states[f[1]] = f[17]
    return states
