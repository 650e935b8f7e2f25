# A fake peer for security/wire-after-handshake.lab.ts: it connects to HOST:PORT as node-id 0,
# answers the CRAM-HMAC challenge with the right SECRET (sha256), completes the handshake and only
# then sends something malformed or out of place. Each case uses fresh connections and prints
# "CASE dropped" when the node closed them within a few seconds, "CASE KEPT" when it did not.
#   authed-peer.py HOST PORT SECRET secondary|primary|pieces
# secondary: the node is a Secondary with fresh meta data; primary: the node is Primary and writes
# (the fake peer receives them and answers with bogus acks); pieces: valid packets in pieces.
import hashlib, hmac, os, socket, struct, sys, threading, time

from bsr_wire import MAGIC, P, connect, pkt

HOST, PORT, SECRET, PHASE = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode(), sys.argv[4]
ROLE_PRIMARY, ROLE_SECONDARY = 1, 2
DISK_UPTODATE = 9
UUID_FLAG_RESYNC_DONE = 4
BM_FLAG_LAST = 1
BM_FLAG_CSUMS = 4
# how long a node that accepts a packet keeps the connection before we call it kept
DROP_WAIT = 3.0


def recv_exact(s, n):
    b = b''
    while len(b) < n:
        c = s.recv(n - len(b))
        if not c:
            raise EOFError('the node closed the connection')
        b += c
    return b


def recv_pkt(s):
    magic, vol, cmd, length, _ = struct.unpack('>IHHII', recv_exact(s, 16))
    if magic != MAGIC:
        raise ValueError('bad magic from the node')
    return cmd, vol, recv_exact(s, length)


def recv_until(s, want):
    while True:
        cmd, _, payload = recv_pkt(s)
        if cmd == want:
            return payload


class Retry(Exception):
    """The node closed the connection before the attack was sent: try the case again."""


def prep(f):
    # a node that accepts in rounds drops a data stream whose meta stream came after the
    # round's end, and a busy host can delay a ping answer: neither is what a case tests
    def wrapped(*args, **kwargs):
        try:
            return f(*args, **kwargs)
        except (EOFError, ConnectionError) as e:
            raise Retry(e) from e
    return wrapped


# the node's resource and node ids, and ours: bound into every authentication answer
RESOURCE, NODE_ID, MY_ID = b'r0', 1, 0


def auth_answer(challenge, stream, answering, asking):
    # HMAC(secret, challenge | stream | resource name in 128 zero-padded bytes | from | to)
    bound = challenge + stream + RESOURCE.ljust(128, b'\0') + struct.pack('>II', answering, asking)
    return hmac.new(SECRET, bound, hashlib.sha256).digest()


def authenticate(s, stream):
    """CRAM-HMAC on one stream: both send a challenge, answer the other's, check the answer."""
    mine = os.urandom(64)
    s.sendall(pkt(P['AUTH_CHALLENGE'], mine))
    theirs = recv_until(s, P['AUTH_CHALLENGE'])
    s.sendall(pkt(P['AUTH_RESPONSE'], auth_answer(theirs, stream, MY_ID, NODE_ID)))
    if recv_until(s, P['AUTH_RESPONSE']) != auth_answer(mine, stream, NODE_ID, MY_ID):
        raise ValueError('the node answered our challenge wrongly')


def conn():
    return connect(HOST, PORT, timeout=10, tries=61)


class Peer:
    """Both streams of one connection; a thread answers the node's pings on the meta stream."""

    def __init__(self):
        self.d = conn()
        self.d.sendall(pkt(P['INITIAL_DATA']))
        self.m = conn()
        self.m.sendall(pkt(P['INITIAL_META']))
        self.meta_lock = threading.Lock()
        self.ping_acks = 0
        # started once the meta stream is authenticated (handshake): the challenge comes there first
        self.pinger = threading.Thread(target=self.answer_pings, daemon=True)

    def answer_pings(self):
        try:
            while True:
                cmd, _, _ = recv_pkt(self.m)
                if cmd == P['PING']:
                    self.meta(pkt(P['PING_ACK']))
                elif cmd == P['PING_ACK']:
                    self.ping_acks += 1
        except (OSError, EOFError, ValueError):
            pass

    def meta(self, data):
        with self.meta_lock:
            self.m.sendall(data)

    @prep
    def handshake(self, uuid=None, disk=DISK_UPTODATE, role=ROLE_SECONDARY):
        """Features, authentication, protocol; then our SIZES/UUIDS/STATE. Without uuid the
        node's current UUID is echoed (same data generation: no resync). Returns it."""
        d = self.d
        d.sendall(pkt(P['FEATURES'], struct.pack('>8I', 1, 0, 1, MY_ID, NODE_ID, 0, 0, 0)))
        recv_until(d, P['FEATURES'])
        authenticate(d, b'D')
        authenticate(self.m, b'M')
        self.pinger.start()
        d.sendall(pkt(P['PROTOCOL'], struct.pack('>6I', 3, 0, 0, 0, 0, 0)))
        recv_until(d, P['PROTOCOL'])
        recv_until(d, P['SIZES'])
        current = struct.unpack('>Q', recv_until(d, P['UUIDS'])[:8])[0]
        recv_until(d, P['STATE'])
        d.sendall(pkt(P['SIZES'], struct.pack('>QQQII', 1 << 20, 0, 1 << 20, 1 << 20, 0)))
        d.sendall(pkt(P['UUIDS'], struct.pack('>12Q', uuid if uuid is not None else current, 0, *([0] * 8), 0, 0)))
        d.sendall(pkt(P['STATE'], struct.pack('>4I', role, disk, 0, 0)))
        return current

    @prep
    def node_bitmap_words(self):
        """Reads the node's bitmap up to its last chunk: the number of words of its bitmap."""
        while True:
            cmd, _, payload = recv_pkt(self.d)
            if cmd in (P['BITMAP'], P['COMPRESSED_BITMAP']):
                off, n, flags = struct.unpack('>QII', payload[:16])
                if flags & BM_FLAG_LAST:
                    return off + n

    @prep
    def send_bitmap(self, words, last_flags=BM_FLAG_LAST):
        """Our (empty) bitmap in plain chunks: the node then starts the resync."""
        off = 0
        while True:
            n = max(1, min(512, words - off))
            last = last_flags if off + n >= words else 0
            self.d.sendall(pkt(P['BITMAP'], struct.pack('>QII', off, n, last) + b'\0' * (8 * n)))
            off += n
            if last:
                return

    @prep
    def wait_data(self):
        """The node's next write: (sector, block_id, seq, size)."""
        while True:
            cmd, _, payload = recv_pkt(self.d)
            if cmd == P['DATA']:
                sector, block_id, seq, _ = struct.unpack('>QQII', payload[:24])
                return sector, block_id, seq, len(payload) - 24

    def dropped(self):
        """Whether the node closes the data stream within DROP_WAIT seconds."""
        self.d.settimeout(0.5)
        end = time.time() + DROP_WAIT
        try:
            while time.time() < end:
                try:
                    if not self.d.recv(65536):
                        return True
                except socket.timeout:
                    pass
        except OSError:
            return True
        return False

    def close(self):
        for s in (self.d, self.m):
            try:
                s.close()
            except OSError:
                pass
        time.sleep(0.5)


cases = {'secondary': [], 'primary': [], 'pieces': []}


def case(phase):
    def add(f):
        cases[phase].append(f)
        return f
    return add


def data(sector, size, block_id=1, flags=0):
    return struct.pack('>QQII', sector, block_id, 1, flags) + b'z' * size


def ack(sector, block_id, size):
    return struct.pack('>QQII', sector, block_id, size, 1)


# ---------------------------------------------------------------- the node is a Secondary

@case('secondary')
def authenticated_handshake_only(p):
    p.handshake()
    return 'keep'


@case('secondary')
def no_authentication(p):
    # skips the challenge: the node must not take PROTOCOL instead
    p.d.sendall(pkt(P['FEATURES'], struct.pack('>8I', 1, 0, 1, MY_ID, NODE_ID, 0, 0, 0)))
    p.d.sendall(pkt(P['PROTOCOL'], struct.pack('>6I', 3, 0, 0, 0, 0, 0)))


@case('secondary')
def bitmap_word_count_overflow(p):
    # n_words * 8 wraps to 8 in 32 bits: the 8 bytes sent "match" 0x20000001 words
    p.handshake(uuid=0x5eed0000)
    p.node_bitmap_words()
    p.d.sendall(pkt(P['BITMAP'], struct.pack('>QII', 0, 0x20000001, BM_FLAG_LAST) + b'\xff' * 8))


@case('secondary')
def bitmap_word_count_overflow_512(p):
    p.handshake(uuid=0x5eed0000)
    p.node_bitmap_words()
    p.d.sendall(pkt(P['BITMAP'], struct.pack('>QII', 0, 0x20000040, BM_FLAG_LAST) + b'\xff' * 512))


@case('secondary')
def bitmap_offset_beyond(p):
    p.handshake(uuid=0x5eed0000)
    p.node_bitmap_words()
    p.d.sendall(pkt(P['BITMAP'], struct.pack('>QII', (1 << 64) - 1, 1, BM_FLAG_LAST) + b'\xff' * 8))


@case('secondary')
def bitmap_when_established(p):
    p.handshake()
    p.d.sendall(pkt(P['BITMAP'], struct.pack('>QII', 0, 1, BM_FLAG_LAST) + b'\xff' * 8))


@case('secondary')
def data_beyond_end(p):
    p.handshake()
    p.d.sendall(pkt(P['DATA'], data(1 << 40, 4096)))


@case('secondary')
def data_sector_wraps(p):
    p.handshake()
    p.d.sendall(pkt(P['DATA'], data((1 << 64) - 4, 4096)))


@case('secondary')
def data_unknown_volume(p):
    p.handshake()
    p.d.sendall(pkt(P['DATA'], data(0, 4096), vol=7))


@case('secondary')
def state_unknown_volume(p):
    p.handshake()
    p.d.sendall(pkt(P['STATE'], struct.pack('>4I', ROLE_SECONDARY, DISK_UPTODATE, 0, 0), vol=65535))


@case('secondary')
def rs_data_while_established(p):
    p.handshake()
    p.d.sendall(pkt(P['RS_DATA_REPLY'], data(0, 4096, block_id=0)))


@case('secondary')
def rs_data_beyond_end(p):
    p.handshake(uuid=0x5eed0000)
    p.send_bitmap(p.node_bitmap_words())
    time.sleep(0.5)
    p.d.sendall(pkt(P['RS_DATA_REPLY'], data(1 << 40, 4096, block_id=0)))


@case('secondary')
def rs_data_sector_wraps(p):
    p.handshake(uuid=0x5eed0000)
    p.send_bitmap(p.node_bitmap_words())
    time.sleep(0.5)
    p.d.sendall(pkt(P['RS_DATA_REPLY'], data((1 << 64) - 8, 4096, block_id=0)))


@case('secondary')
def rs_data_unaligned(p):
    p.handshake(uuid=0x5eed0000)
    p.send_bitmap(p.node_bitmap_words())
    time.sleep(0.5)
    p.d.sendall(pkt(P['RS_DATA_REPLY'], data(3, 4096, block_id=0)))


@case('secondary')
def rs_data_request(p):
    # bsr has no resync requests (the source pushes): an unknown packet
    p.handshake()
    p.d.sendall(pkt(P['RS_DATA_REQUEST'], struct.pack('>QQII', 1 << 40, 1, 1 << 20, 0)))


def csum_request(sector, size, digest_bytes):
    return struct.pack('>QII', sector, size, 0) + b'd' * digest_bytes


@case('secondary')
def csum_rs_request_while_established(p):
    p.handshake()
    p.d.sendall(pkt(P['CSUM_RS_REQUEST'], csum_request(0, 4096, 4)))


@case('secondary')
def csum_rs_request_to_the_target(p):
    # the node is SyncTarget: only it asks, and no csums-alg was agreed
    p.handshake(uuid=0x5eed0000)
    p.send_bitmap(p.node_bitmap_words())
    time.sleep(0.5)
    p.d.sendall(pkt(P['CSUM_RS_REQUEST'], csum_request(0, 4096, 4)))


@case('secondary')
def rs_is_in_sync_never_asked(p):
    p.handshake(uuid=0x5eed0000)
    p.send_bitmap(p.node_bitmap_words())
    time.sleep(0.5)
    p.d.sendall(pkt(P['RS_IS_IN_SYNC'], ack(0, 0, 4096)))


@case('secondary')
def csums_announced_without_alg(p):
    p.handshake(uuid=0x5eed0000)
    p.send_bitmap(p.node_bitmap_words(), BM_FLAG_LAST | BM_FLAG_CSUMS)


@case('secondary')
def write_ack_never_sent(p):
    p.handshake()
    p.meta(pkt(P['WRITE_ACK'], ack(0, 0x123456789, 4096)))


@case('secondary')
def neg_ack_never_sent(p):
    p.handshake()
    p.meta(pkt(P['NEG_ACK'], ack(8, 77, 4096)))


@case('secondary')
def rs_write_ack_never_sent(p):
    p.handshake()
    p.meta(pkt(P['RS_WRITE_ACK'], ack(0, 0, 1 << 20)))


@case('secondary')
def rs_write_ack_beyond_end(p):
    p.handshake()
    p.meta(pkt(P['RS_WRITE_ACK'], ack((1 << 64) - 8, 0, 4096)))


@case('secondary')
def neg_rs_dreply_never_sent(p):
    p.handshake()
    p.meta(pkt(P['NEG_RS_DREPLY'], ack(64, 0, 4096)))


@case('secondary')
def barrier_ack_never_sent(p):
    p.handshake()
    p.meta(pkt(P['BARRIER_ACK'], struct.pack('>II', 0x40000000, 1)))


@case('secondary')
def ack_unknown_volume(p):
    p.handshake()
    p.meta(pkt(P['WRITE_ACK'], ack(0, 1, 4096), vol=9))


@case('secondary')
def become_sync_source_inconsistent(p):
    # the node's data are Inconsistent: it cannot be anybody's sync source
    p.handshake()
    p.d.sendall(pkt(P['BECOME_SYNC_SOURCE'], struct.pack('>II', 1, 0)))


@case('secondary')
def resync_done_while_established(p):
    p.handshake()
    p.d.sendall(pkt(P['UUIDS'], struct.pack('>12Q', 0x5eed0000, 0, *([0] * 8), 0, UUID_FLAG_RESYNC_DONE)))


@case('secondary')
def sizes_shrink(p):
    p.handshake()
    p.d.sendall(pkt(P['SIZES'], struct.pack('>QQQII', 2048, 0, 2048, 1 << 20, 0)))


@case('secondary')
def become_sync_target_twice(p):
    p.handshake()
    p.d.sendall(pkt(P['BECOME_SYNC_TARGET'], struct.pack('>II', 1, 0)))
    p.d.sendall(pkt(P['BECOME_SYNC_TARGET'], struct.pack('>II', 1, 0)))


# ---------------------------------------------------------------- the node is Primary and writes

@case('primary')
def write_ack_unknown_block_id(p):
    p.handshake()
    sector, block_id, _, size = p.wait_data()
    p.meta(pkt(P['WRITE_ACK'], ack(sector, block_id + 1000, size)))


@case('primary')
def write_ack_wrong_sector(p):
    p.handshake()
    sector, block_id, _, size = p.wait_data()
    p.meta(pkt(P['WRITE_ACK'], ack(sector + 8, block_id, size)))


@case('primary')
def barrier_ack_future_epoch(p):
    # would retire the writes the peer never confirmed
    p.handshake()
    p.wait_data()
    p.meta(pkt(P['BARRIER_ACK'], struct.pack('>II', 0x40000000, 1)))


@case('primary')
def rs_write_ack_not_syncing(p):
    p.handshake()
    p.wait_data()
    p.meta(pkt(P['RS_WRITE_ACK'], ack(0, 0, 1 << 20)))


@case('primary')
def peer_claims_primary(p):
    p.handshake()
    p.wait_data()
    p.d.sendall(pkt(P['STATE'], struct.pack('>4I', ROLE_PRIMARY, DISK_UPTODATE, 0, 0)))


@case('primary')
def become_sync_target_to_primary(p):
    p.handshake()
    p.d.sendall(pkt(P['BECOME_SYNC_TARGET'], struct.pack('>II', 1, 0)))


@case('primary')
def data_to_primary(p):
    p.handshake()
    p.d.sendall(pkt(P['DATA'], data(0, 4096)))


# ---------------------------------------------------------------- packets in pieces (ping-int 1 s)

@case('pieces')
def meta_packets_in_pieces(p):
    # every PING in two segments 0.3 s apart, for 8 s: some begin just before one of the node's
    # keep-alive looks (each second); it must wait for the rest, not give up on the connection
    p.handshake()
    p.m.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    ping = pkt(P['PING'])
    sent, end = 0, time.time() + 8
    while time.time() < end:
        with p.meta_lock:
            p.m.sendall(ping[:7])
            time.sleep(0.3)
            p.m.sendall(ping[7:])
        sent += 1
    time.sleep(1)
    if p.ping_acks != sent:
        raise ValueError(f'the node answered {p.ping_acks} of {sent} pings sent in pieces')
    return 'keep'


def run(f):
    p = None
    try:
        p = Peer()
        if f(p) == 'keep':
            return 'DROPPED (a valid handshake)' if p.dropped() else 'kept (valid)'
        return 'dropped' if p.dropped() else 'KEPT'
    finally:
        if p:
            p.close()


for f in cases[PHASE]:
    # five tries a second apart: a CI run saw three resets in a row right after the
    # node's promotion (not yet understood; the attack itself was never reached)
    for attempt in range(5):
        try:
            res = run(f)
            break
        except Retry as e:
            res = f'ERROR (the connection failed five times before the attack: {e})'
            time.sleep(1)
        except (OSError, EOFError, ValueError) as e:
            res = f'ERROR ({e})'
            break
    print(f.__name__, res, flush=True)
