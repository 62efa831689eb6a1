#!/usr/bin/env python
"""An SMTP sink for benchmarks, in a process of its own: accepts everything, logs each arrival.

    python bench/smtpsink.py --log FILE [--port N]

Prints `listening on PORT` once it accepts connections, then appends one line per message
to FILE: `<unix time of arrival> <Message-ID or -> <bytes>`. It stops on SIGTERM or SIGINT.
Its own process keeps its CPU out of the measured process, as a real mail server would be.
"""

import argparse
import re
import signal
import socket
import sys
import threading
import time
from pathlib import Path

from aiosmtpd.controller import Controller

_MESSAGE_ID = re.compile(rb"^Message-ID:[ \t]*(\S+)", re.IGNORECASE | re.MULTILINE)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoggingHandler:
    def __init__(self, log):
        self.log = log

    async def handle_EHLO(self, server, session, envelope, hostname, responses):
        # PIPELINING, as the inbound listener offers it: the same exchange with both.
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]

    async def handle_DATA(self, server, session, envelope):
        at = time.time()
        data = envelope.content
        head = data[: data.find(b"\r\n\r\n")]
        found = _MESSAGE_ID.search(head)
        message_id = found.group(1).decode(errors="replace") if found else "-"
        self.log.write(f"{at:.6f} {message_id} {len(data)}\n")
        return "250 2.0.0 Queued"


def read_log(path: str | Path) -> list[tuple[float, str]]:
    """(arrival time, Message-ID) of every message the sink logged so far."""
    arrivals = []
    with open(path) as fh:
        for line in fh:
            parts = line.split()
            if len(parts) == 3:  # a line still being written has no size yet
                arrivals.append((float(parts[0]), parts[1]))
    return arrivals


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--log", required=True)
    parser.add_argument("--port", type=int, default=0, help="default: a free port")
    args = parser.parse_args(argv)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    # Line-buffered: the benchmark reads the file while messages arrive.
    with open(args.log, "a", buffering=1) as log:
        controller = Controller(
            LoggingHandler(log), hostname="127.0.0.1", port=args.port or free_port(), decode_data=False
        )
        controller.start()
        print(f"listening on {controller.port}", flush=True)
        try:
            stop.wait()
        finally:
            controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
