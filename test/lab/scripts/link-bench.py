#!/usr/bin/env python3
"""The bench's link figures between two lab guests, over the replication link.

  link-bench.py serve ADDR PORT
      Listens on ADDR:PORT and serves two connections (either order), then exits:
      'T' (throughput): discards everything it receives with recv(MSG_TRUNC), so the kernel
          drops the payload without copying it to user space, until the sender shuts down its
          side; then answers the byte count (8 bytes, big endian).
      'R' (round trips): echoes each message back until the peer closes.
  link-bench.py run ADDR PORT --from LOCAL --file FILE [--bytes N] [--count N] [--size N]
      The client, bound to LOCAL: sends N bytes of FILE (default: its size) with sendfile (no
      user-space copy either: under emulation a copy through user space would measure the CPU),
      and times it until the server's answer; then N ping-pongs of SIZE-byte messages
      (TCP_NODELAY, after 20 unmeasured ones). Prints one JSON line:
      {"tcp_bytes", "tcp_s", "tcp_MBps" (10^6 bytes/s), "rtt_count", "rtt_size",
       "rtt_mean_us", "rtt_median_us", "rtt_min_us"}.
"""

import argparse
import json
import os
import socket
import struct
import sys
import time

WARMUP = 20


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise ConnectionError('connection closed early')
        buf += chunk
    return bytes(buf)


def serve(addr, port, timeout):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, port))
    ls.listen(4)
    ls.settimeout(timeout)
    print('listening', flush=True)
    done = set()
    trash = bytearray(1 << 20)  # never written: MSG_TRUNC discards in the kernel
    while done != {'T', 'R'}:
        c, _ = ls.accept()
        c.settimeout(timeout)
        mode = recv_exact(c, 1)
        if mode == b'T':
            total = 0
            while True:
                n = c.recv_into(trash, len(trash), socket.MSG_TRUNC)
                if n == 0:
                    break
                total += n
            c.sendall(struct.pack('>Q', total))
            done.add('T')
        elif mode == b'R':
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            (size,) = struct.unpack('>I', recv_exact(c, 4))
            while True:
                try:
                    msg = recv_exact(c, size)
                except ConnectionError:
                    break
                c.sendall(msg)
            done.add('R')
        c.close()
    ls.close()


def connect(addr, port, local, deadline):
    while True:
        try:
            return socket.create_connection((addr, port), timeout=10, source_address=(local, 0))
        except (ConnectionRefusedError, socket.timeout, OSError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def run(a):
    deadline = time.monotonic() + a.wait
    fd = os.open(a.file, os.O_RDONLY)
    fsize = os.fstat(fd).st_size
    total = a.bytes or fsize

    s = connect(a.addr, a.port, a.local, deadline)
    s.settimeout(None)  # blocking: os.sendfile on a socket with a timeout (non-blocking) gives EAGAIN
    s.sendall(b'T')
    t0 = time.perf_counter()
    sent = 0
    while sent < total:
        off = sent % fsize
        n = os.sendfile(s.fileno(), fd, off, min(total - sent, fsize - off))
        if n == 0:
            raise RuntimeError('sendfile sent nothing')
        sent += n
    s.shutdown(socket.SHUT_WR)
    (got,) = struct.unpack('>Q', recv_exact(s, 8))
    tcp_s = time.perf_counter() - t0
    s.close()
    os.close(fd)
    if got != total:
        raise RuntimeError(f'the server received {got} bytes of {total}')

    s = connect(a.addr, a.port, a.local, deadline)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.sendall(b'R' + struct.pack('>I', a.size))
    msg = b'x' * a.size
    for _ in range(WARMUP):
        s.sendall(msg)
        recv_exact(s, a.size)
    times = []
    clock = time.perf_counter_ns
    for _ in range(a.count):
        t = clock()
        s.sendall(msg)
        recv_exact(s, a.size)
        times.append(clock() - t)
    s.close()
    times.sort()
    print(
        json.dumps(
            {
                'tcp_bytes': total,
                'tcp_s': tcp_s,
                'tcp_MBps': total / 1e6 / tcp_s,
                'rtt_count': a.count,
                'rtt_size': a.size,
                'rtt_mean_us': sum(times) / len(times) / 1000,
                'rtt_median_us': times[len(times) // 2] / 1000,
                'rtt_min_us': times[0] / 1000,
            }
        )
    )


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest='cmd', required=True)
    sv = sub.add_parser('serve')
    sv.add_argument('addr')
    sv.add_argument('port', type=int)
    sv.add_argument('--timeout', type=float, default=120)
    rn = sub.add_parser('run')
    rn.add_argument('addr')
    rn.add_argument('port', type=int)
    rn.add_argument('--from', dest='local', required=True)
    rn.add_argument('--file', required=True)
    rn.add_argument('--bytes', type=int, default=0)
    rn.add_argument('--count', type=int, default=500)
    rn.add_argument('--size', type=int, default=64)
    rn.add_argument('--wait', type=float, default=60, help='seconds to keep trying to connect')
    a = p.parse_args()
    if a.cmd == 'serve':
        serve(a.addr, a.port, a.timeout)
    else:
        run(a)


if __name__ == '__main__':
    try:
        main()
    except Exception as e:  # one line for the bench's error message
        print(f'link-bench: {e}', file=sys.stderr)
        sys.exit(1)
