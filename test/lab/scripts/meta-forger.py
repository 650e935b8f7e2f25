# A forger for security/stream-authentication.lab.ts: run on the peer's node (so its address is the
# peer's), it opens a meta stream to the node at HOST:PORT before the real peer connects, sends a
# PING and prints what the node did with the stream within SECONDS:
#   CHALLENGED  the node asked it to prove the shared secret (AUTH_CHALLENGE)
#   USED        the node took it for the peer's meta stream (answered the ping)
#   DROPPED     the node closed it first;  SILENT  nothing came
# A dropped stream is opened again until a verdict or the time is up; the first line lists every
# attempt's outcome, the last the verdict. MARK, a file created once the first stream is sent.
#   meta-forger.py HOST PORT SECONDS [MARK]
import socket
import struct
import sys
import time

from bsr_wire import MAGIC, P, connect, pkt

HOST, PORT, SECONDS = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
MARK = sys.argv[4] if len(sys.argv) > 4 else None


def read(s, n, deadline):
    b = b''
    while len(b) < n:
        s.settimeout(max(0.1, deadline - time.time()))
        chunk = s.recv(n - len(b))
        if not chunk:
            raise EOFError
        b += chunk
    return b


def first_packet(s, deadline):
    try:
        magic, _vol, cmd, length, _pad = struct.unpack('>IHHII', read(s, 16, deadline))
        read(s, length, deadline)
    except socket.timeout:
        return 'SILENT'
    except (EOFError, ConnectionResetError):
        return 'DROPPED'
    if magic != MAGIC:
        return 'GARBAGE'
    if cmd == P['AUTH_CHALLENGE']:
        return 'CHALLENGED'
    if cmd == P['PING_ACK']:
        return 'USED'
    return f'OTHER {cmd}'


deadline = time.time() + SECONDS
verdicts = []
# the node drops an unpaired stream when its accept round ends: open a new one until a verdict
while time.time() < deadline and not {'CHALLENGED', 'USED'} & set(verdicts):
    try:
        s = connect(HOST, PORT, 5, 4)
    except OSError as e:
        verdicts.append(f'REFUSED {e}')
        time.sleep(0.25)
        continue
    s.sendall(pkt(P['INITIAL_META']) + pkt(P['PING']))
    if MARK:
        open(MARK, 'w').close()  # the caller may let the real peer connect now
    result = first_packet(s, deadline)
    # a USED stream also carries the node's own meta packets: read past them to the ping's answer
    while result.startswith('OTHER') and time.time() < deadline:
        result = first_packet(s, deadline)
    verdicts.append(result)
    s.close()
print(' '.join(verdicts), flush=True)
print(next((v for v in ('USED', 'CHALLENGED') if v in verdicts), verdicts[-1] if verdicts else 'NONE'), flush=True)
