# Garbage for the replication port of bsr.ko (security/wire-garbage.lab.ts): each case opens fresh TCP
# connections to HOST:PORT and sends something malformed; the node must drop it and stay healthy.
import os, socket, struct, sys, time

from bsr_wire import FF, P, connect, hdr, pkt

HOST, PORT = sys.argv[1], int(sys.argv[2])

def conn():
    return connect(HOST, PORT, timeout=5, tries=41)

def pair():
    d = conn(); d.sendall(pkt(P['INITIAL_DATA']))
    m = conn(); m.sendall(pkt(P['INITIAL_META']))
    return d, m

def handshake(d, features=0):
    d.sendall(pkt(P['FEATURES'], struct.pack('>8I', 1, features, 1, 0, 1, 0, 0, 0)))
    d.sendall(pkt(P['PROTOCOL'], struct.pack('>6I', 3, 0, 0, 0, 0, 0)))
    d.sendall(pkt(P['SIZES'], struct.pack('>QQQII', 1 << 20, 0, 1 << 20, 1 << 20, 0), 0))
    d.sendall(pkt(P['UUIDS'], struct.pack('>12Q', 4, 0, *([0] * 8), 0, 0), 0))
    d.sendall(pkt(P['STATE'], struct.pack('>4I', 2, 5, 0, 0), 0))

def finish(socks):
    # the node closes what it refuses: wait for that (at most 1.5 s), then close ours
    first = socks[0]
    first.settimeout(0.1)
    end = time.time() + 1.5
    while time.time() < end:
        try:
            if not first.recv(65536):
                break
        except socket.timeout:
            continue
        except OSError:
            break
    for s in socks:
        try:
            s.close()
        except OSError:
            pass
    time.sleep(0.5)

cases = []
def case(f):
    cases.append(f)
    return f

@case
def random_bytes():
    s = conn(); s.sendall(os.urandom(65536)); finish([s])

@case
def truncated_header():
    s = conn(); s.sendall(pkt(P['INITIAL_DATA'])[:7]); finish([s])

@case
def wrong_magic():
    s = conn(); s.sendall(hdr(P['INITIAL_DATA'], 0, magic=0x12345678)); finish([s])

@case
def junk_after_initial():
    d, m = pair(); d.sendall(os.urandom(4096)); m.sendall(os.urandom(4096)); finish([d, m])

@case
def huge_length():
    d, m = pair(); d.sendall(hdr(P['FEATURES'], 0xFFFFFFF0) + os.urandom(1024)); finish([d, m])

@case
def unknown_type_in_handshake():
    d, m = pair(); d.sendall(pkt(4711, b'x' * 16)); finish([d, m])

@case
def truncated_features():
    d, m = pair(); d.sendall(hdr(P['FEATURES'], 32) + b'\0' * 10); finish([d, m])

@case
def wrong_node_ids():
    d, m = pair(); d.sendall(pkt(P['FEATURES'], struct.pack('>8I', 1, 0, 1, 7, 9, 0, 0, 0))); finish([d, m])

@case
def data_beyond_end():
    d, m = pair(); handshake(d)
    d.sendall(pkt(P['DATA'], struct.pack('>QQII', 1 << 40, 1, 1, 0) + b'z' * 4096)); finish([d, m])

@case
def data_unknown_volume():
    d, m = pair(); handshake(d)
    d.sendall(pkt(P['DATA'], struct.pack('>QQII', 0, 1, 1, 0) + b'z' * 4096, vol=7)); finish([d, m])

@case
def data_huge():
    d, m = pair(); handshake(d)
    d.sendall(hdr(P['DATA'], 64 << 20) + b'z' * 8192); finish([d, m])

@case
def data_odd_size():
    d, m = pair(); handshake(d)
    d.sendall(pkt(P['DATA'], struct.pack('>QQII', 0, 1, 1, 0) + b'z' * 1000)); finish([d, m])

@case
def unknown_type_after_handshake():
    d, m = pair(); handshake(d)
    d.sendall(pkt(999, b'q' * 24)); m.sendall(pkt(998)); finish([d, m])

@case
def bitmap_unexpected():
    d, m = pair(); handshake(d)
    d.sendall(pkt(P['BITMAP'], struct.pack('>QII', 0, 1, 1) + b'\xff' * 8)); finish([d, m])

@case
def rs_data_not_target():
    d, m = pair(); handshake(d)
    d.sendall(pkt(P['RS_DATA_REPLY'], struct.pack('>QQII', 0, 0, 0, 0) + b'r' * 4096)); finish([d, m])

@case
def meta_garbage():
    d, m = pair(); handshake(d)
    m.sendall(os.urandom(2048)); finish([d, m])

@case
def truncated_data():
    d, m = pair(); handshake(d)
    d.sendall(hdr(P['DATA'], 24 + 65536) + struct.pack('>QQII', 0, 1, 1, 0) + b'z' * 100); finish([d, m])

@case
def app_active_not_agreed():
    # the throttle's report from a peer that announced no features
    d, m = pair(); handshake(d)
    m.sendall(pkt(P['APP_ACTIVE'])); finish([d, m])

@case
def app_active_with_payload():
    d, m = pair(); handshake(d, FF['APP_ACTIVE'])
    m.sendall(pkt(P['APP_ACTIVE'], b'\0' * 8)); finish([d, m])

def handshake_as_newer(d):
    # the fake peer has data (a current UUID) while the node's are just created: the node becomes
    # SyncTarget and waits for the fake peer's bitmap
    d.sendall(pkt(P['FEATURES'], struct.pack('>8I', 1, 0, 1, 0, 1, 0, 0, 0)))
    d.sendall(pkt(P['PROTOCOL'], struct.pack('>6I', 3, 0, 0, 0, 0, 0)))
    d.sendall(pkt(P['SIZES'], struct.pack('>QQQII', 1 << 20, 0, 1 << 20, 1 << 20, 0), 0))
    d.sendall(pkt(P['UUIDS'], struct.pack('>12Q', 0x5eed0000, 0, *([0] * 8), 0, 0), 0))
    d.sendall(pkt(P['STATE'], struct.pack('>4I', 2, 9, 0, 0), 0))

def handshake_v4(d, volumes):
    # protocol 4: SYNC_PARAM (no algorithms) and the volume list follow PROTOCOL
    d.sendall(pkt(P['FEATURES'], struct.pack('>8I', 4, 0, 4, 0, 1, 0, 0, 0)))
    d.sendall(pkt(P['PROTOCOL'], struct.pack('>6I', 3, 0, 0, 0, 0, 0)))
    d.sendall(pkt(P['SYNC_PARAM'], b'\0' * 64))
    d.sendall(pkt(P['VOLUMES'], volumes))

def volumes_case(volumes):
    d, m = pair(); handshake_v4(d, volumes); finish([d, m])

@case
def volumes_count_mismatch():
    volumes_case(struct.pack('>IH', 2, 0))

@case
def volumes_huge_count():
    volumes_case(struct.pack('>I', 0x40000000))

@case
def volumes_duplicate():
    volumes_case(struct.pack('>IHH', 2, 0, 0))

@case
def volumes_descending():
    volumes_case(struct.pack('>IHH', 2, 3, 0))

@case
def volumes_odd_length():
    volumes_case(struct.pack('>IHB', 1, 0, 0))

@case
def data_volume_not_shared():
    # the fake peer lists no volume: the node's volume 0 is not replicated, its DATA is refused
    d, m = pair(); handshake_v4(d, struct.pack('>I', 0))
    d.sendall(pkt(P['DATA'], struct.pack('>QQII', 0, 1, 1, 0) + b'z' * 4096)); finish([d, m])

def rle_case(n_words, code, flags=1, offset=0):
    d, m = pair(); handshake_as_newer(d)
    d.sendall(pkt(P['COMPRESSED_BITMAP'], struct.pack('>QII', offset, n_words, flags) + code)); finish([d, m])

@case
def rle_run_overflows_chunk():
    rle_case(1, bytes([65]))

@case
def rle_truncated_run():
    rle_case(1, bytes([0x80]))

@case
def rle_runs_too_short():
    rle_case(2, bytes([64]))

@case
def rle_zero_run():
    rle_case(1, bytes([0, 64]))

@case
def rle_not_shorter_than_plain():
    rle_case(1, bytes([64]) + b'\0' * 7)

@case
def rle_zero_words():
    rle_case(0, bytes([64]))

@case
def rle_beyond_the_bitmap():
    rle_case(512, bytes([0x80, 0x80, 0x02]))

@case
def rle_wrong_offset():
    rle_case(1, bytes([64]), offset=77)

@case
def rle_endless_varint():
    rle_case(64, b'\xff' * 200)

for f in cases:
    try:
        f()
        print('sent', f.__name__, flush=True)
    except OSError as e:
        print('sent', f.__name__, '(peer closed:', e, ')', flush=True)
