# Launcher for Debian's vicc (python3-virtualsmartcard 0.8) as the test bed's
# virtual contactless card. Embedded in package vicc and written to a temp
# file at run time. It deals with the three quirks documented in
# TESTBED.md and adds what a card printer test needs:
#   - a per-card UID answered to the PC/SC GET DATA command FF CA 00 00 00,
#   - ACTIVATE FILE (44) as a lock: later UPDATE BINARY on the file -> 6982,
#   - dropping out of the field before the (N+1)th UPDATE BINARY,
#   - a JSON dump of the card's files, written when the card leaves.
import argparse
import atexit
import importlib
import importlib.abc
import importlib.util
import json
import os
import signal
import socket
import sys

# Quirk 1: the module lives outside Debian python's path.
sys.path.insert(0, "/usr/lib/python3/site-packages/virtualsmartcard")


# Quirk 2: vicc imports "Crypto", Debian ships pycryptodome as "Cryptodome".
class _CryptoAlias(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, name, path, target=None):
        if name == "Crypto" or name.startswith("Crypto."):
            return importlib.util.spec_from_loader(name, self)
        return None

    def create_module(self, spec):
        return importlib.import_module("Cryptodome" + spec.name[len("Crypto"):])

    def exec_module(self, module):
        pass


sys.meta_path.insert(0, _CryptoAlias())

from virtualsmartcard.VirtualSmartcard import VirtualICC, Iso7816OS  # noqa: E402
from virtualsmartcard.SWutils import SwError  # noqa: E402
from virtualsmartcard import SmartcardFilesystem  # noqa: E402
from virtualsmartcard.SmartcardFilesystem import DF  # noqa: E402

# Quirk 3: a case-3 command (data, no Le) reaches formatResult with le=None
# and crashes on "None > int"; a missing Le means 0.
_format_result = Iso7816OS.formatResult


def _format_result_fixed(self, seekable, le, data, sw, sm):
    if le is None:
        le = 0
    return _format_result(self, seekable, le, data, sw, sm)


Iso7816OS.formatResult = _format_result_fixed


# Not in TESTBED.md: SELECT asking for the FCP (P2=04) crashes in
# TLVutils.pack (a list grown with ints instead of bytes). A correct packer
# for the flat (tag, length, bytes) lists selectFile passes.
def _bertlv_pack(data):
    out = b""
    for tag, _, value in data:
        t = b""
        while tag > 0:
            t = bytes([tag & 0xff]) + t
            tag >>= 8
        n = len(value)
        if n < 0x80:
            ln = bytes([n])
        elif n < 0x100:
            ln = bytes([0x81, n])
        else:
            ln = bytes([0x82, n >> 8, n & 0xff])
        out += t + ln + value
    return out


SmartcardFilesystem.bertlv_pack = _bertlv_pack

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, default=35963)
ap.add_argument("--uid", default="")
ap.add_argument("--dump", default="")
ap.add_argument("--drop-after-writes", type=int, default=0)
ap.add_argument("--app", action="append", default=[],
                help="AID (hex) of an application DF present on the blank")
ap.add_argument("--restore", default="",
                help="a dump (JSON) this card comes back with: a card taken away and tapped again")
ap.add_argument("--extended", action="store_true",
                help="announce and accept extended-length APDUs")
args = ap.parse_args()

uid = bytes.fromhex(args.uid) if args.uid else None
state = {"writes": 0, "dropped": False, "dumped": False}
locked = set()

vicc = VirtualICC(None, "iso7816", "localhost", args.port, logginglevel=50)


# vpcd writes the 2-byte length and the APDU separately; with Nagle on its
# side and delayed ACKs on ours every command waited ~40 ms. Ask the kernel
# to ACK at once before each read (TCP_QUICKACK does not stick).
class _QuickAckSocket:
    def __init__(self, sock):
        self._s = sock
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def recv(self, n):
        self._s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        # WAITALL: vicc assumes one recv returns the whole APDU, which
        # stops holding for extended-length commands.
        data = self._s.recv(n, socket.MSG_WAITALL)
        self._s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
        return data

    def __getattr__(self, name):
        return getattr(self._s, name)


vicc.sock = _QuickAckSocket(vicc.sock)
if args.extended:
    # Same card, but its ATR's card capabilities say extended Lc/Le.
    vicc.os = Iso7816OS(vicc.os.mf, vicc.os.SAM, extended_length=True)
os_ = vicc.os
mf = os_.mf
# Applications the card maker installed: DF01, DF02, ... named by AID.
for i, aid in enumerate(args.app):
    mf.append(DF(mf, 0xDF01 + i, dfname=bytes.fromhex(aid)))

if args.restore:
    from virtualsmartcard.SmartcardFilesystem import TransparentStructureEF  # noqa: E402
    with open(args.restore) as fh:
        saved = json.load(fh)
    for f in saved.get("files", []):
        comps = f["path"].split("/")[1:]  # below 3F00
        parent = mf
        for comp in comps[:-1]:
            fid = int(comp, 16)
            found = [x for x in parent.content if x.fid == fid]
            if found:
                parent = found[0]
            else:
                sub = DF(parent, fid)
                parent.append(sub)
                parent = sub
        ef = TransparentStructureEF(parent, int(comps[-1], 16), data=bytes.fromhex(f["data"]).decode("latin-1"))
        parent.append(ef)
        if f.get("locked"):
            locked.add(id(ef))


def _files(df, prefix):
    out = []
    for f in df.content:
        path = "%s/%04X" % (prefix, f.fid)
        if isinstance(f, DF):
            out.extend(_files(f, path))
            continue
        data = getattr(f, "data", b"")
        if isinstance(data, str):
            data = data.encode("latin-1")
        out.append({"path": path, "fid": "%04X" % f.fid, "data": data.hex(),
                    "locked": id(f) in locked})
    return out


def dump():
    if state["dumped"] or not args.dump:
        return
    state["dumped"] = True
    doc = {"uid": uid.hex().upper() if uid else None, "writes": state["writes"],
           "dropped": state["dropped"], "files": _files(mf, "3F00")}
    tmp = args.dump + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(doc, fh, indent=1)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, args.dump)


def leave(*_):
    # The card leaves the field: record what it holds, then vanish. Both a
    # Remove from the test and the card printer ejecting end up here.
    dump()
    os._exit(0)


atexit.register(dump)  # vicc exits on its own when pcscd goes away
signal.signal(signal.SIGTERM, leave)
signal.signal(signal.SIGINT, leave)

_update = os_.ins2handler[0xd6]


def _update_binary(p1, p2, data):
    if args.drop_after_writes and state["writes"] >= args.drop_after_writes:
        state["dropped"] = True
        leave()
    ef = mf.currentEF()
    if ef is not None and id(ef) in locked:
        raise SwError(0x6982)
    sw, out = _update(p1, p2, data)
    state["writes"] += 1
    return sw, out


def _activate(p1, p2, data):
    ef = mf.currentEF()
    if ef is None:
        raise SwError(0x6986)
    locked.add(id(ef))
    return 0x9000, b""


os_.ins2handler[0xd6] = _update_binary
os_.ins2handler[0x44] = _activate

_execute = os_.execute


def _execute_with_uid(msg):
    if len(msg) >= 4 and msg[0] == 0xFF and msg[1] == 0xCA:
        if uid is not None and msg[2] == 0 and msg[3] == 0:
            return uid + b"\x90\x00"
        return b"\x6a\x81"
    return _execute(msg)


os_.execute = _execute_with_uid

# vicc's create file prints to stdout; keep it off the test's output.
sys.stdout = sys.stderr
try:
    vicc.run()
except KeyboardInterrupt:
    pass
