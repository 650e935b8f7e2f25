# The replication wire for the lab's fake peers (garbage-peer.py, authed-peer.py): packet numbers and the
# header magic from native/abi/bsr-abi.json, the one source of the ABI, and the h100 header.
import json
import os
import socket
import struct
import time

with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', '..', '..', 'native', 'abi', 'bsr-abi.json')) as f:
    _WIRE = json.load(f)['wire']
MAGIC = _WIRE['h100Magic']
P = dict(_WIRE['packets'], FEATURES=_WIRE['packets']['CONNECTION_FEATURES'])
FF = _WIRE['featureFlags']


def hdr(cmd, length, vol=0, magic=MAGIC):
    return struct.pack('>IHHII', magic, vol, cmd, length, 0)


def pkt(cmd, payload=b'', vol=0):
    return hdr(cmd, len(payload), vol) + payload


def connect(host, port, timeout, tries):
    # the node closes its listener while it tears a connection down: retry a little
    for _ in range(tries - 1):
        try:
            return socket.create_connection((host, port), timeout=timeout)
        except OSError:
            time.sleep(0.25)
    return socket.create_connection((host, port), timeout=timeout)
