#!/usr/bin/env python3
"""verify_bundle.py - an independent verifier of certledger evidence bundles.

It shares no code with certledger: it is written from docs/evidence.md, docs/format.md and the
public specifications (RFC 9162 for the Merkle tree and its proofs, C2SP signed-note and
tlog-checkpoint for the checkpoint, msgpack for the envelopes), with the Python standard library
(json, hashlib, base64) and pyca/cryptography for Ed25519 only. It has its own strict msgpack
decoder, because the standard library has none and a lenient one would defeat the purpose.

    usage: verify_bundle.py [--json] [--public-key HEX] BUNDLE

Exit 0 when the bundle verifies, 4 (with a one-line reason naming the first fault) when it does
not, 2 for a usage error, 5 when the file cannot be read. The checks, and the order that decides
which fault is "first", are those of docs/evidence.md; the reasons start with the same phrases as
`certledger verify-bundle` ("bad signature", "hash chain broken", ...).
"""

import base64
import datetime
import hashlib
import json
import sys

try:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
except ImportError:  # pragma: no cover - the environment, not the bundle
    sys.stderr.write("verify_bundle.py: needs pyca/cryptography (Debian: python3-cryptography)\n")
    sys.exit(5)

FORMAT = "certledger-evidence-bundle"
VERSION = 1
HEADER_MAX = 4 << 20
LINE_MAX = 256 << 10
ENVELOPE_MAX = 64 * 1024
SIG_DOMAIN = b"certledger/event/v1\n"
LEDGER_ACTOR = b"ledger"
ORIGIN_MAX = 255
NOTE_MAX = 1024 * 1024
NOTE_MAX_SIGS = 100
HEADER_KEYS = {"format", "version", "origin", "public_key", "checkpoint", "since", "until",
               "first_seq", "last_seq", "events", "admins", "consistency"}
ENTRY_KEYS = {"seq", "envelope", "inclusion"}


class Fault(Exception):
    """The first fault: the seq it concerns (0 when none) and the reason."""

    def __init__(self, seq, reason):
        super().__init__(reason)
        self.seq = seq
        self.reason = reason


class Malformed(Exception):
    """A decoding error inside a helper; the caller turns it into a Fault."""


# ---------------------------------------------------------------- strict msgpack ----

class MsgpackReader:
    """A bounds-checked cursor over msgpack bytes. Accepts what the format allows (any width
    of an integer or length), refuses extension types, the never-used 0xc1 and anything that
    runs past the end."""

    def __init__(self, data):
        self.d = data
        self.p = 0

    def left(self):
        return len(self.d) - self.p

    def _take(self, n):
        if n > self.left():
            raise Malformed("truncated")
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def _be(self, n):
        return int.from_bytes(self._take(n), "big")

    def peek(self):
        if self.p >= len(self.d):
            return None
        c = self.d[self.p]
        if c <= 0x7F or c in (0xCC, 0xCD, 0xCE, 0xCF):
            return "uint"
        if c >= 0xE0 or 0xD0 <= c <= 0xD3:
            return "int"
        if (c & 0xF0) == 0x80 or c in (0xDE, 0xDF):
            return "map"
        if (c & 0xF0) == 0x90 or c in (0xDC, 0xDD):
            return "array"
        if (c & 0xE0) == 0xA0 or c in (0xD9, 0xDA, 0xDB):
            return "str"
        if c in (0xC4, 0xC5, 0xC6):
            return "bin"
        if c == 0xC0:
            return "nil"
        if c in (0xC2, 0xC3):
            return "bool"
        if c in (0xCA, 0xCB):
            return "float"
        if 0xD4 <= c <= 0xD8 or c in (0xC7, 0xC8, 0xC9):
            return "ext"
        return None

    def _header(self, fix_mask, fix_tag, fix_bits, t8, t16, t32, what):
        c = self._take(1)[0]
        if (c & fix_mask) == fix_tag:
            return c & fix_bits
        if t8 is not None and c == t8:
            return self._be(1)
        if c == t16:
            return self._be(2)
        if c == t32:
            return self._be(4)
        raise Malformed(what)

    def array(self):
        n = self._header(0xF0, 0x90, 0x0F, None, 0xDC, 0xDD, "expected an array")
        if n > self.left():
            raise Malformed("array length exceeds input")
        return n

    def map(self):
        n = self._header(0xF0, 0x80, 0x0F, None, 0xDE, 0xDF, "expected a map")
        if n > self.left() // 2:
            raise Malformed("map length exceeds input")
        return n

    def str(self):
        n = self._header(0xE0, 0xA0, 0x1F, 0xD9, 0xDA, 0xDB, "expected a string")
        return self._take(n)

    def bin(self, length=None):
        n = self._header(0x00, 0x01, 0x00, 0xC4, 0xC5, 0xC6, "expected binary data")
        b = self._take(n)
        if length is not None and len(b) != length:
            raise Malformed("binary field has the wrong length")
        return b

    def uint(self):
        c = self._take(1)[0]
        if c <= 0x7F:
            return c
        widths = {0xCC: 1, 0xCD: 2, 0xCE: 4, 0xCF: 8}
        if c not in widths:
            raise Malformed("expected an unsigned integer")
        return self._be(widths[c])

    def int(self):
        if self.p >= len(self.d):
            raise Malformed("truncated")
        c = self.d[self.p]
        if c >= 0xE0:
            self.p += 1
            return c - 0x100
        widths = {0xD0: 1, 0xD1: 2, 0xD2: 4, 0xD3: 8}
        if c in widths:
            self.p += 1
            return int.from_bytes(self._take(widths[c]), "big", signed=True)
        v = self.uint()
        if v > 2**63 - 1:
            raise Malformed("integer out of range")
        return v

    def bool(self):
        c = self._take(1)[0]
        if c not in (0xC2, 0xC3):
            raise Malformed("expected a boolean")
        return c == 0xC3

    def key(self, name):
        if self.str() != name.encode():
            raise Malformed("expected key '%s'" % name)

    def skip(self, depth=0):
        if depth >= 32:
            raise Malformed("nesting too deep")
        t = self.peek()
        if t == "nil" or t == "bool":
            self._take(1)
        elif t == "uint":
            self.uint()
        elif t == "int":
            self.int()
        elif t == "float":
            self._take(5 if self.d[self.p] == 0xCA else 9)
        elif t == "str":
            self.str()
        elif t == "bin":
            self.bin()
        elif t == "array":
            for _ in range(self.array()):
                self.skip(depth + 1)
        elif t == "map":
            for _ in range(self.map()):
                self.skip(depth + 1)
                self.skip(depth + 1)
        elif t == "ext":
            raise Malformed("msgpack extension types are not allowed")
        else:
            raise Malformed("truncated" if self.p >= len(self.d) else "invalid msgpack byte")


class Event:
    __slots__ = ("seq", "ts", "type", "actor", "prev", "data", "body", "sig", "signer")


def decode_envelope(env):
    """[body: bin, sig: bin(64), signer: bin(32)]; body a map of v, seq, ts, type, actor, prev,
    data in that order (DESIGN.md "The event envelope")."""
    if len(env) > ENVELOPE_MAX:
        raise Malformed("%d bytes is over the %d byte limit" % (len(env), ENVELOPE_MAX))
    r = MsgpackReader(env)
    if r.array() != 3:
        raise Malformed("envelope is not 3 items")
    ev = Event()
    ev.body = r.bin()
    ev.sig = r.bin(64)
    ev.signer = r.bin(32)
    if r.left():
        raise Malformed("%d trailing bytes after the envelope" % r.left())
    b = MsgpackReader(ev.body)
    if b.map() != 7:
        raise Malformed("the body is not a map of 7 keys")
    b.key("v")
    if b.uint() != 1:
        raise Malformed("unknown event version")
    b.key("seq")
    ev.seq = b.uint()
    b.key("ts")
    ev.ts = b.int()
    b.key("type")
    ev.type = b.str()
    b.key("actor")
    ev.actor = b.str()
    b.key("prev")
    ev.prev = b.bin(32)
    b.key("data")
    start = b.p
    if b.peek() != "map":
        raise Malformed("data is not a map")
    b.skip()
    ev.data = ev.body[start:b.p]
    if b.left():
        raise Malformed("%d trailing bytes after the body" % b.left())
    if ev.seq == 0:
        raise Malformed("seq 0")
    for text, limit in ((ev.type, 64), (ev.actor, 128)):
        if not text or len(text) > limit or any(c < 0x20 or c == 0x7F for c in text):
            raise Malformed("bad type or actor text")
    return ev


def sha256(*parts):
    h = hashlib.sha256()
    for p in parts:
        h.update(p)
    return h.digest()


# ---------------------------------------------------------------- who may sign ----
# docs/format.md "Who may sign": seq 1 is ledger.created signed by the key it names (actor
# "ledger"); the ledger key may also register the first owner and nothing else; every other
# event is signed by the active admin whose name is its actor: owners anything, admins all but
# admin changes, auditors nothing; names are never reused; the last owner stays.

ROLES = (b"owner", b"admin", b"auditor")


def decode_ledger_created(data):
    r = MsgpackReader(data)
    try:
        if r.map() != 3:
            raise Malformed("expected keys origin, public_key, org_domains")
        r.key("origin")
        origin = r.str()
        r.key("public_key")
        pub = r.bin(32)
        r.key("org_domains")
        for _ in range(r.array()):
            r.str()
        if r.left():
            raise Malformed("trailing bytes")
    except Malformed as e:
        raise Denied("malformed ledger.created data: %s" % e)
    return origin, pub


def decode_admin_added(data):
    r = MsgpackReader(data)
    try:
        if r.map() != 3:
            raise Malformed("expected keys name, role, public_key")
        r.key("name")
        name = r.str()
        r.key("role")
        role = r.str()
        r.key("public_key")
        pub = r.bin(32)
        if r.left():
            raise Malformed("trailing bytes")
    except Malformed as e:
        raise Denied("malformed admin.added data: %s" % e)
    if role not in ROLES:
        raise Denied("admin.added: unknown role '%s'" % role.decode(errors="replace"))
    return name, role, pub


def decode_admin_removed(data):
    r = MsgpackReader(data)
    try:
        if r.map() != 1:
            raise Malformed("expected key name")
        r.key("name")
        name = r.str()
        if r.left():
            raise Malformed("trailing bytes")
    except Malformed as e:
        raise Denied("malformed admin.removed data: %s" % e)
    return name


def admin_name_valid(name):
    ok = set(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
    return 0 < len(name) <= 64 and name != LEDGER_ACTOR and all(c in ok for c in name)


class Denied(Exception):
    pass


class Admin:
    __slots__ = ("name", "role", "pub", "signer_id", "added_seq", "removed_seq")

    @property
    def active(self):
        return self.removed_seq == 0


class Admins:
    """The admin table, replayed from the signer-registering events."""

    def __init__(self):
        self.v = []
        self.ledger_pub = None
        self.ledger_signer_id = None

    def find(self, name):
        for a in self.v:
            if a.name == name:
                return a
        return None

    def find_signer(self, signer_id):
        found = None
        for a in self.v:
            if a.signer_id == signer_id and (found is None or a.active):
                found = a
        return found

    def check(self, seq, typ, actor, data, signer_id):
        t = typ.decode(errors="replace")
        act = actor.decode(errors="replace")
        if seq == 1:
            if typ != b"ledger.created":
                raise Denied("seq 1 must be ledger.created")
            _, pub = decode_ledger_created(data)
            if sha256(pub) != signer_id:
                raise Denied("ledger.created is not signed by the ledger key it names")
            if actor != LEDGER_ACTOR:
                raise Denied("ledger.created must have actor 'ledger'")
            return
        if self.ledger_pub is None:
            raise Denied("no ledger.created at seq 1")
        if typ == b"ledger.created":
            raise Denied("ledger.created after seq 1")
        if signer_id == self.ledger_signer_id:
            ever_owner = any(a.role == b"owner" for a in self.v)
            if typ != b"admin.added" or ever_owner:
                raise Denied("the ledger key may not sign %s" % t)
            _, role, _ = decode_admin_added(data)
            if role != b"owner":
                raise Denied("the ledger key may only register the first owner")
            if actor != LEDGER_ACTOR:
                raise Denied("events signed by the ledger key must have actor 'ledger'")
        else:
            who = self.find(actor)
            if who is None:
                holder = self.find_signer(signer_id)
                if holder is not None:
                    raise Denied("actor '%s' is not an admin (the signing key is admin '%s')"
                                 % (act, holder.name.decode()))
                raise Denied("no admin named '%s'" % act)
            if who.signer_id != signer_id:
                raise Denied("the signing key is not the key of admin '%s'" % who.name.decode())
            if not who.active:
                raise Denied("admin '%s' was removed at seq %d" % (who.name.decode(), who.removed_seq))
            if who.role == b"auditor":
                raise Denied("auditor '%s' may not make changes (%s)" % (who.name.decode(), t))
            if typ in (b"admin.added", b"admin.removed") and who.role != b"owner":
                raise Denied("only an owner may add or remove admins ('%s' is %s)"
                             % (who.name.decode(), who.role.decode()))
        if typ == b"admin.added":
            name, _, pub = decode_admin_added(data)
            if not admin_name_valid(name):
                raise Denied("invalid admin name '%s'" % name.decode(errors="replace"))
            if self.find(name) is not None:
                raise Denied("admin '%s' exists already (names are never reused)" % name.decode())
            if pub == self.ledger_pub:
                raise Denied("an admin may not use the ledger key")
        elif typ == b"admin.removed":
            name = decode_admin_removed(data)
            target = self.find(name)
            if target is None or not target.active:
                raise Denied("no active admin named '%s'" % name.decode(errors="replace"))
            owners = sum(1 for a in self.v if a.active and a.role == b"owner")
            if target.role == b"owner" and owners <= 1:
                raise Denied("cannot remove '%s': it is the last owner" % target.name.decode())

    def apply(self, seq, typ, data):
        if typ == b"ledger.created":
            _, pub = decode_ledger_created(data)
            self.ledger_pub = pub
            self.ledger_signer_id = sha256(pub)
        elif typ == b"admin.added":
            name, role, pub = decode_admin_added(data)
            if len(name) > 128:
                raise Denied("admin name too long")
            a = Admin()
            a.name, a.role, a.pub, a.signer_id = name, role, pub, sha256(pub)
            a.added_seq, a.removed_seq = seq, 0
            self.v.append(a)
        elif typ == b"admin.removed":
            a = self.find(decode_admin_removed(data))
            if a is not None:
                a.removed_seq = seq

    def key_of(self, signer_id):
        """The public key with this signer id, if registered."""
        if signer_id == self.ledger_signer_id:
            return self.ledger_pub
        for a in self.v:
            if a.signer_id == signer_id:
                return a.pub
        return None


# ---------------------------------------------------------------- RFC 9162 ----

def leaf_hash(entry):
    return sha256(b"\x00", entry)


def node_hash(left, right):
    return sha256(b"\x01", left, right)


def split_hashes(b):
    return [b[i:i + 32] for i in range(0, len(b), 32)]


def verify_inclusion(leaf, index, size, proof, root):
    """RFC 9162 section 2.1.3.2."""
    if index >= size or len(proof) > 64:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old_size, new_size, old_root, new_root, proof):
    """RFC 9162 section 2.1.4.2; equal sizes with an empty proof and equal roots also pass."""
    if old_size == 0 or old_size > new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    if not proof or len(proof) > 65:
        return False
    if old_size & (old_size - 1) == 0:  # a power of two: the old root is the first hash
        proof = [old_root] + proof
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = proof[0]
    for c in proof[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


# ---------------------------------------------------------------- C2SP checkpoints ----

def is_space(cp):
    return cp in (0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2028, 0x2029, 0x202F,
                  0x205F, 0x3000) or 0x2000 <= cp <= 0x200A


def name_problem(name_bytes, strict):
    """Why the bytes cannot be a note key name (strict: a certledger origin), or None."""
    if not name_bytes:
        return "is empty"
    if strict and len(name_bytes) > ORIGIN_MAX:
        return "is longer than 255 bytes"
    try:
        text = name_bytes.decode("utf-8")
    except UnicodeDecodeError:
        return "is not valid UTF-8"
    for ch in text:
        cp = ord(ch)
        if 0xD800 <= cp <= 0xDFFF:
            return "is not valid UTF-8"
        if strict and (cp < 0x20 or 0x7F <= cp <= 0x9F) and not is_space(cp):
            return "contains a control character"
        if is_space(cp):
            return "contains a space or a line break"
        if ch == "+":
            return "contains '+'"
    return None


def b64_strict(text):
    """Standard padded base64 with one spelling per value (no stray bits)."""
    if isinstance(text, str):
        try:
            text = text.encode("ascii")
        except UnicodeEncodeError:
            raise Malformed("not base64")
    if len(text) % 4:
        raise Malformed("not base64")
    try:
        raw = base64.b64decode(text, validate=True)
    except ValueError:  # binascii.Error is one
        raise Malformed("not base64")
    if base64.b64encode(raw) != text:
        raise Malformed("not canonical base64")
    return raw


def open_checkpoint(note, origin, pub):
    """Parses and verifies a C2SP tlog-checkpoint signed note by pub under the key name origin;
    returns (size, root). Raises Malformed with the reason otherwise."""
    raw = note.encode("utf-8", errors="surrogatepass")
    if len(raw) > NOTE_MAX:
        raise Malformed("note is over the size limit")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("malformed note: not valid UTF-8")
    if any(ord(c) < 0x20 and c != "\n" for c in note):
        raise Malformed("malformed note: control character")
    split = raw.rfind(b"\n\n")
    if split < 0:
        raise Malformed("malformed note: no blank line between the text and the signatures")
    text, sigs = raw[:split + 1], raw[split + 2:]
    if not sigs:
        raise Malformed("malformed note: no signature line after the blank line")
    if not sigs.endswith(b"\n"):
        raise Malformed("malformed note: the last line does not end with a newline")
    lines = sigs[:-1].split(b"\n")
    if len(lines) > NOTE_MAX_SIGS:
        raise Malformed("malformed note: too many signature lines")
    parsed = []
    for i, line in enumerate(lines, 1):
        prefix = "\u2014 ".encode()
        if not line.startswith(prefix):
            raise Malformed("malformed note: signature line %d does not start with an em dash and a space" % i)
        rest = line[len(prefix):]
        sp = rest.find(b" ")
        if sp < 0:
            raise Malformed("malformed note: signature line %d has no signature" % i)
        name, sig64 = rest[:sp], rest[sp + 1:]
        why = name_problem(name, False)
        if why:
            raise Malformed("malformed note: the key name on signature line %d %s" % (i, why))
        payload = b64_strict(sig64)
        if len(payload) <= 4:
            raise Malformed("malformed note: the signature on line %d is too short" % i)
        parsed.append((name, payload))
    # the checkpoint body: exactly origin, size, root
    body = text[:-1].split(b"\n") if text.endswith(b"\n") else None
    if body is None or len(body) != 3 or not all(body):
        raise Malformed("malformed checkpoint: expected exactly the origin, tree size and root hash lines")
    why = name_problem(body[0], True)
    if why:
        raise Malformed("malformed checkpoint: the origin %s" % why)
    size_text = body[1]
    if not size_text.isdigit() or len(size_text) > 20 or (size_text[:1] == b"0" and len(size_text) > 1) \
            or int(size_text) >= 2**64:
        raise Malformed("malformed checkpoint: the tree size is not a decimal number")
    root = b64_strict(body[2])
    if len(root) != 32:
        raise Malformed("malformed checkpoint: the root hash is not 32 bytes")
    if body[0] != origin.encode():
        raise Malformed("checkpoint is for origin \"%s\", not \"%s\"" % (body[0].decode(), origin))
    key_id = sha256(origin.encode(), b"\n\x01", pub)[:4]
    good = 0
    verifier = Ed25519PublicKey.from_public_bytes(pub)
    for i, (name, payload) in enumerate(parsed, 1):
        if name != origin.encode() or payload[:4] != key_id:
            continue  # another key's signature: ignored, as the spec requires
        try:
            if len(payload) != 68:
                raise InvalidSignature()
            verifier.verify(payload[4:], text)
        except InvalidSignature:
            raise Malformed("note signature on line %d by key %s+%s does not verify" % (i, origin, key_id.hex()))
        good += 1
    if not good:
        raise Malformed("note carries no signature by key %s+%s" % (origin, key_id.hex()))
    return int(size_text), root


# ---------------------------------------------------------------- the bundle ----

def parse_time(text):
    """RFC 3339 (as certledger writes it: ...Z or an offset) to microseconds since the epoch."""

    t = text
    if not isinstance(t, str) or len(t) < 20 or t[10] not in "Tt":
        raise ValueError(t)
    if t.endswith(("Z", "z")):
        t = t[:-1] + "+00:00"
    dt = datetime.datetime.fromisoformat(t)
    if dt.tzinfo is None:
        raise ValueError(text)
    epoch = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
    delta = dt - epoch
    return (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds


def is_int(v):
    return type(v) is int


def is_seq(v):
    return type(v) is int and 1 <= v < 2**63


def strict_json(text):
    def pairs(items):
        keys = [k for k, _ in items]
        if len(set(keys)) != len(keys):
            raise ValueError("duplicate key")
        return dict(items)

    def constant(name):
        raise ValueError(name)

    return json.loads(text, object_pairs_hook=pairs, parse_constant=constant)


class Lines:
    """The lines of a file (bytes, without "\n"), read one at a time, with one line of look-ahead.
    Lines are cut at "\n" only, as the format says."""

    def __init__(self, f):
        self.f = f
        self.ahead = None

    def _read(self):
        line = self.f.readline()
        if not line:
            return None
        return line[:-1] if line.endswith(b"\n") else line

    def next(self):
        if self.ahead is not None:
            line, self.ahead = self.ahead, None
            return line
        return self._read()

    def peek(self):
        if self.ahead is None:
            self.ahead = self._read()
        return self.ahead


class Verifier:
    def __init__(self, lines, pinned_key=None):
        self.lines = lines  # a Lines reader
        self.lineno = 0
        self.pinned = pinned_key
        self.events = 0
        self.first = self.last = 0
        self.count = 0
        self.tree_size = 0
        self.old_size = 0
        self.origin = ""
        self.pub = b""

    # -- header --
    def header(self):
        line = self.lines.next()
        if line is None:
            raise Fault(0, "malformed bundle: the file is empty")
        self.lineno = 1
        if len(line) > HEADER_MAX:
            raise Fault(0, "malformed bundle: line 1 is longer than %d bytes" % HEADER_MAX)
        try:
            h = strict_json(line.decode("utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise Fault(0, "malformed bundle: line 1 is not a bundle header: %s" % e)
        if not isinstance(h, dict) or set(h) != HEADER_KEYS:
            raise Fault(0, "malformed bundle: line 1 is not a bundle header")
        if h["format"] != FORMAT:
            raise Fault(0, "malformed bundle: not a %s" % FORMAT)
        if not is_int(h["version"]) or h["version"] != VERSION:
            raise Fault(0, "unsupported bundle version (this verifier reads version %d)" % VERSION)
        origin = h["origin"]
        if not isinstance(origin, str) or name_problem(origin.encode("utf-8", "surrogatepass"), True):
            raise Fault(0, "malformed bundle: the origin is not valid")
        self.origin = origin
        pk = h["public_key"]
        if not isinstance(pk, str) or len(pk) != 64 or any(c not in "0123456789abcdef" for c in pk):
            raise Fault(0, "malformed bundle: public_key is not 64 lowercase hex digits")
        self.pub = bytes.fromhex(pk)
        if self.pinned is not None and self.pinned != self.pub:
            raise Fault(0, "the bundle is signed by ledger key %s, not the expected one" % pk)
        if not isinstance(h["checkpoint"], str):
            raise Fault(0, "malformed bundle: checkpoint is not a string")
        try:
            self.tree_size, self.root = open_checkpoint(h["checkpoint"], origin, self.pub)
        except Malformed as e:
            raise Fault(0, "checkpoint: %s" % e)
        self.since = self.time_field(h["since"], "since", -2**63)
        self.until = self.time_field(h["until"], "until", 2**63 - 1)
        n = h["events"]
        if not is_int(n) or n < 0:
            raise Fault(0, "malformed bundle: events is not a count")
        self.count = n
        first, last = h["first_seq"], h["last_seq"]
        if n == 0:
            agree = first is None and last is None
        else:
            agree = is_seq(first) and is_seq(last) and last >= first and last - first + 1 == n
        if not agree:
            raise Fault(0, "malformed bundle: first_seq, last_seq and events do not agree")
        if n:
            self.first, self.last = first, last
            if last > self.tree_size:
                raise Fault(0, "malformed bundle: the range ends at seq %d, after the checkpoint's tree of %d events"
                            % (last, self.tree_size))
        if not isinstance(h["admins"], list):
            raise Fault(0, "malformed bundle: admins is not an array")
        self.admins_hdr = h["admins"]
        cons = h["consistency"]
        if cons is not None:
            self.consistency(cons)

    def time_field(self, v, name, none):
        if v is None:
            return none
        try:
            return parse_time(v)
        except (ValueError, TypeError):
            raise Fault(0, "malformed bundle: header field %s is not an RFC 3339 time or null" % name)

    def consistency(self, cons):
        if not isinstance(cons, dict) or set(cons) != {"old_checkpoint", "proof"} \
                or not isinstance(cons["old_checkpoint"], str) or not isinstance(cons["proof"], str):
            raise Fault(0, "malformed bundle: consistency must be null or {old_checkpoint, proof}")
        try:
            old_size, old_root = open_checkpoint(cons["old_checkpoint"], self.origin, self.pub)
        except Malformed as e:
            raise Fault(0, "old checkpoint: %s" % e)
        try:
            proof = b64_strict(cons["proof"])
        except Malformed:
            raise Fault(0, "malformed bundle: the consistency proof is not base64")
        if len(proof) % 32 or old_size > self.tree_size or \
                not verify_consistency(old_size, self.tree_size, old_root, self.root, split_hashes(proof)):
            raise Fault(0, "consistency proof does not verify: the checkpoint of size %d is not a prefix of "
                           "the checkpoint of size %d" % (old_size, self.tree_size))
        self.old_size = old_size

    # -- entries --
    def next_seq(self):
        """The seq of the line after the current one (for telling a gap from a swap)."""
        line = self.lines.peek()
        if line is None:
            return None
        try:
            j = json.loads(line.decode("utf-8"))
            return j.get("seq") if isinstance(j, dict) and is_seq(j.get("seq")) else None
        except (ValueError, UnicodeDecodeError):
            return None

    def place(self, seq):
        if self.prev_seq == 0 and seq != 1:
            raise Fault(1, "malformed bundle: the first entry must be seq 1 (ledger.created), not seq %d" % seq)
        in_range = self.count > 0 and seq >= self.first
        if not in_range and (self.count == 0 or self.prev_seq < self.first):
            if seq <= self.prev_seq:
                raise Fault(seq, "events out of order: seq %d comes after seq %d" % (seq, self.prev_seq))
            return
        if self.count > 0 and self.expect > self.last:
            raise Fault(0, "malformed bundle: an entry (seq %d) after the last event of the range" % seq)
        if seq == self.expect:
            return
        if seq > self.expect and self.next_seq() == self.expect:
            raise Fault(self.expect, "events out of order: seq %d comes before seq %d" % (seq, self.expect))
        if seq > self.expect:
            raise Fault(self.expect, "event seq %d is missing (found seq %d in its place)" % (self.expect, seq))
        raise Fault(self.expect, "events out of order: seq %d comes after seq %d" % (seq, self.prev_seq))

    def entry(self, line, lineno):
        if len(line) > LINE_MAX:
            raise Fault(0, "malformed bundle: line %d is longer than %d bytes" % (lineno, LINE_MAX))
        try:
            j = strict_json(line.decode("utf-8"))
        except (ValueError, UnicodeDecodeError):
            j = None
        if not isinstance(j, dict) or set(j) != ENTRY_KEYS or not is_seq(j["seq"]) \
                or not isinstance(j["envelope"], str) or not isinstance(j["inclusion"], str):
            raise Fault(0, "malformed bundle: line %d is not an entry {seq, envelope, inclusion}" % lineno)
        seq = j["seq"]
        self.place(seq)
        try:
            env = b64_strict(j["envelope"])
            proof = b64_strict(j["inclusion"])
            if len(proof) % 32:
                raise Malformed("proof")
        except Malformed:
            raise Fault(seq, "malformed bundle: the envelope or inclusion proof of seq %d is not base64 "
                             "(of 32-byte hashes)" % seq)
        try:
            ev = decode_envelope(env)
        except Malformed as e:
            raise Fault(seq, "malformed envelope: seq %d: %s" % (seq, e))
        if ev.seq != seq:
            raise Fault(seq, "malformed bundle: the entry for seq %d holds the envelope of seq %d" % (seq, ev.seq))
        in_range = self.count > 0 and seq >= self.first
        registering = ev.type == b"ledger.created" if seq == 1 else ev.type in (b"admin.added", b"admin.removed")
        if not in_range and not registering:
            raise Fault(seq, "malformed bundle: seq %d lies before the range but is not a signer-registering "
                             "event (%s)" % (seq, ev.type.decode(errors="replace")))
        if in_range:
            if seq > self.first and ev.prev != self.prev_id:
                raise Fault(seq, "hash chain broken: prev of seq %d is not the SHA-256 of seq %d's body"
                            % (seq, seq - 1))
            if seq > self.first and ev.ts < self.prev_ts:
                raise Fault(seq, "ts goes backwards at seq %d" % seq)
            if ev.ts < self.since or ev.ts >= self.until:
                raise Fault(seq, "event seq %d lies outside the bundle's time window" % seq)
        if seq == 1:
            try:
                origin, pub = decode_ledger_created(ev.data)
            except Denied:
                origin, pub = None, None
            if origin != self.origin.encode() or pub != self.pub:
                raise Fault(1, "ledger.created (seq 1) does not name the bundle's origin and ledger key")
        try:
            self.admins.check(seq, ev.type, ev.actor, ev.data, ev.signer)
            key = self.admins.key_of(ev.signer) if seq > 1 else None
            self.admins.apply(seq, ev.type, ev.data)
        except Denied as e:
            raise Fault(seq, "signer not allowed: seq %d: %s" % (seq, e))
        if seq == 1:
            key = self.admins.key_of(ev.signer)
        if key is None:
            raise Fault(seq, "signer not allowed: seq %d: its signing key is not known" % seq)
        try:
            Ed25519PublicKey.from_public_bytes(key).verify(ev.sig, SIG_DOMAIN + ev.body)
        except InvalidSignature:
            raise Fault(seq, "bad signature: seq %d is not validly signed by its signer" % seq)
        if not verify_inclusion(leaf_hash(env), seq - 1, self.tree_size, split_hashes(proof), self.root):
            raise Fault(seq, "inclusion proof does not verify: seq %d against the checkpoint's tree of %d events"
                        % (seq, self.tree_size))
        self.prev_seq = seq
        if in_range:
            self.prev_id = sha256(ev.body)
            self.prev_ts = ev.ts
            self.expect = seq + 1
            self.events += 1

    def check_admins(self):
        bound = self.last if self.count else 1
        derived = [a for a in self.admins.v if a.added_seq <= bound]
        hdr = self.admins_hdr
        ok = len(hdr) == len(derived)
        for a, o in zip(derived, hdr) if ok else ():
            ok = (isinstance(o, dict) and set(o) == {"name", "role", "public_key", "added_seq", "removed_seq"}
                  and o["name"] == a.name.decode(errors="replace") and o["role"] == a.role.decode()
                  and o["public_key"] == a.pub.hex() and is_seq(o["added_seq"]) and o["added_seq"] == a.added_seq
                  and ((a.removed_seq == 0 and o["removed_seq"] is None)
                       or (is_seq(o["removed_seq"]) and o["removed_seq"] == a.removed_seq)))
            if not ok:
                break
        if not ok:
            raise Fault(0, "the header's admins list does not match the admin.added and admin.removed events "
                           "in the bundle")

    def run(self):
        self.header()
        self.admins = Admins()
        self.prev_seq = 0
        self.expect = self.first
        self.prev_id = b""
        self.prev_ts = 0
        while True:
            line = self.lines.next()
            if line is None:
                break
            self.lineno += 1
            self.entry(line, self.lineno)
        if self.count and self.expect <= self.last:
            raise Fault(self.expect, "event seq %d is missing (the bundle ends at seq %d)"
                        % (self.expect, self.prev_seq))
        if self.prev_seq == 0:
            raise Fault(1, "malformed bundle: no entries (seq 1, ledger.created, must be there)")
        self.check_admins()


def main(argv):
    args = argv[1:]
    as_json = False
    pinned = None
    path = None
    while args:
        a = args.pop(0)
        if a == "--json":
            as_json = True
        elif a == "--public-key" and args:
            k = args.pop(0)
            try:
                pinned = bytes.fromhex(k)
            except ValueError:
                pinned = b""
            if len(pinned) != 32:
                sys.stderr.write("verify_bundle.py: --public-key needs 64 hex digits\n")
                return 2
        elif a in ("-h", "--help"):
            sys.stdout.write(__doc__)
            return 0
        elif path is None and (a == "-" or not a.startswith("-")):
            path = a
        else:
            sys.stderr.write("usage: verify_bundle.py [--json] [--public-key HEX] BUNDLE\n")
            return 2
    if path is None:
        sys.stderr.write("usage: verify_bundle.py [--json] [--public-key HEX] BUNDLE\n")
        return 2
    try:
        f = sys.stdin.buffer if path == "-" else open(path, "rb")
    except OSError as e:
        sys.stderr.write("verify_bundle.py: cannot read %s: %s\n" % (path, e.strerror))
        return 5
    v = Verifier(Lines(f), pinned)
    fault = None
    try:
        v.run()
    except Fault as e:
        fault = e
    except OSError as e:
        sys.stderr.write("verify_bundle.py: cannot read %s: %s\n" % (path, e.strerror))
        return 5
    finally:
        if f is not sys.stdin.buffer:
            f.close()
    if as_json:
        out = {"ok": fault is None, "events": v.events, "head": v.last if v.count else 0}
        if fault is not None:
            out["bad_seq"] = fault.seq or None
            out["reason"] = fault.reason
        out.update({"first_seq": v.first if v.count else 0, "tree_size": v.tree_size, "origin": v.origin,
                    "public_key": v.pub.hex(), "old_size": v.old_size or None})
        sys.stdout.write(json.dumps(out, separators=(",", ":")) + "\n")
    elif fault is None:
        what = "%d events (seq %d..%d) verified" % (v.events, v.first, v.last) if v.count else "no events in the range"
        sys.stdout.write("ok: %s against the checkpoint of %d events of %s%s\n"
                         % (what, v.tree_size, v.origin,
                            ", which extends the checkpoint of %d events" % v.old_size if v.old_size else ""))
    if fault is not None:
        where = " at seq %d" % fault.seq if fault.seq else ""
        sys.stderr.write("verify_bundle.py: bundle verification failed%s: %s\n" % (where, fault.reason))
        return 4
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
