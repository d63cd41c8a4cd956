#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
# slow_server.py PORT DELAY_MS: an HTTP/1.1 server on 127.0.0.1 that answers every request with
# `200 ok` after DELAY_MS, thousands at once on one thread (asyncio): the slow remote service of
# bench/run's figure for runs that wait in http_request.
import asyncio
import sys


async def serve(reader, writer, delay_s):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n"):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":", 1)[1])
            if length:
                await reader.readexactly(length)
            await asyncio.sleep(delay_s)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
        pass
    finally:
        writer.close()


async def main():
    port, delay_s = int(sys.argv[1]), int(sys.argv[2]) / 1000.0
    server = await asyncio.start_server(
        lambda r, w: serve(r, w, delay_s), "127.0.0.1", port, backlog=4096)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
