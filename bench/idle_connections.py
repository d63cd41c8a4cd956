#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# idle_connections.py PORT N READY_FILE: opens N keep-alive connections to 127.0.0.1:PORT, sends
# one GET /healthz on each and reads its answer, writes how many succeeded to READY_FILE, then
# keeps them open and idle until it is terminated (bench/transport).
import signal
import socket
import sys
import time

port, count, ready = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
opened = []
for _ in range(count):
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = b""
        while b'"ok"' not in answer:
            chunk = s.recv(4096)
            if not chunk:
                break
            answer += chunk
        if answer.startswith(b"HTTP/1.1 200") and b"Connection: Close" not in answer:
            opened.append(s)
        else:
            s.close()
    except OSError:
        break
with open(ready, "w") as f:
    f.write(str(len(opened)))
while True:
    time.sleep(60)
