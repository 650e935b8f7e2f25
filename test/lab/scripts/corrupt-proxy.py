# A man in the middle on the replication link (integrity/*.lab.ts): listens on LISTEN_ADDR:PORT,
# forwards every connection to TARGET_ADDR:PORT from BIND_ADDR (the target node checks the source
# address), and flips one byte in the block data of chosen DATA / RS_DATA_REPLY packets of the data
# stream (after their digest was computed by the sender). What to corrupt is read from CONTROL
# whenever it changes: "DATA_SKIP DATA_COUNT RS_SKIP RS_COUNT": let DATA_SKIP DATA packets pass,
# corrupt the next DATA_COUNT, the same for resync replies. Each corruption is appended to LOG as
# "DATA sector=S size=L" (L: the packet's payload after its p_data header, digest included).
# Usage: corrupt-proxy.py LISTEN_ADDR PORT TARGET_ADDR PORT BIND_ADDR CONTROL LOG
import os
import socket
import struct
import sys
import threading

from bsr_wire import MAGIC, P

LISTEN, LPORT, TARGET, TPORT, BIND, CONTROL, LOG = sys.argv[1:8]
HDR = 16
P_DATA_LEN = 24  # sector, block_id, seq_num, dp_flags
lock = threading.Lock()
plan = {'mtime': None, 'DATA': [0, 0], 'RS': [0, 0]}  # per kind: [to skip, to corrupt]


def reload_control():
    try:
        st = os.stat(CONTROL)
    except FileNotFoundError:
        return
    if plan['mtime'] == (st.st_mtime_ns, st.st_size):
        return
    plan['mtime'] = (st.st_mtime_ns, st.st_size)
    with open(CONTROL) as f:
        v = [int(x) for x in f.read().split()]
    if len(v) == 4:
        plan['DATA'] = [v[0], v[1]]
        plan['RS'] = [v[2], v[3]]


def should_corrupt(kind):
    with lock:
        reload_control()
        skip, count = plan[kind]
        if skip:
            plan[kind][0] -= 1
            return False
        if count:
            plan[kind][1] -= 1
            return True
        return False


def recv_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise EOFError
        buf += chunk
    return bytes(buf)


def shut_both(src, dst):
    # one direction ended: end the other too, so both peers see the connection go
    for s in (src, dst):
        try:
            s.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def pipe(src, dst):
    try:
        while True:
            b = src.recv(1 << 16)
            if not b:
                break
            dst.sendall(b)
    except OSError:
        pass
    shut_both(src, dst)


def data_stream(src, dst):
    # packet by packet; only the payload of chosen DATA / RS_DATA_REPLY packets is touched
    kinds = {P['DATA']: 'DATA', P['RS_DATA_REPLY']: 'RS'}
    try:
        while True:
            h = recv_exact(src, HDR)
            magic, _vol, cmd, length, _pad = struct.unpack('>IHHII', h)
            if magic != MAGIC:
                raise EOFError
            payload = bytearray(recv_exact(src, length)) if length else bytearray()
            kind = kinds.get(cmd)
            if kind and length > P_DATA_LEN and should_corrupt(kind):
                sector = struct.unpack('>Q', payload[:8])[0]
                payload[-1] ^= 0x5A  # the last byte of the block data
                with lock, open(LOG, 'a') as f:
                    f.write(f'{kind} sector={sector} size={length - P_DATA_LEN}\n')
            dst.sendall(h + payload)
    except (OSError, EOFError):
        pass
    shut_both(src, dst)


def serve(client):
    try:
        server = socket.create_connection((TARGET, int(TPORT)), timeout=5, source_address=(BIND, 0))
        server.settimeout(None)
        client.settimeout(None)
        first = recv_exact(client, HDR)
        server.sendall(first)
    except (OSError, EOFError):
        client.close()
        return
    for s in (client, server):
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    is_data = struct.unpack('>IHHII', first)[2] == P['INITIAL_DATA']
    forward = data_stream if is_data else pipe
    threading.Thread(target=forward, args=(client, server), daemon=True).start()
    threading.Thread(target=pipe, args=(server, client), daemon=True).start()


def main():
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((LISTEN, int(LPORT)))
    ls.listen(8)
    print('listening', flush=True)
    while True:
        c, _ = ls.accept()
        serve(c)


main()
