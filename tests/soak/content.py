# SPDX-License-Identifier: Apache-2.0
"""Content the soak can check without keeping a copy: every byte is a
function of where it is (appended streams) or carries its own identity
(self-describing blocks), so a reader racing a writer, or a verifier after a
kill, knows what each byte must be."""

import functools
import hashlib
import random
import struct

CHUNK = 4096


@functools.lru_cache(maxsize=8192)
def _chunk(stream, index):
    return random.Random("%s/%d" % (stream, index)).randbytes(CHUNK)


def stream_bytes(stream, offset, length):
    """Bytes [offset, offset+length) of the endless pseudo-random stream
    named `stream`."""
    out = bytearray()
    pos = offset
    end = offset + length
    while pos < end:
        index, within = divmod(pos, CHUNK)
        take = min(CHUNK - within, end - pos)
        out += _chunk(stream, index)[within:within + take]
        pos += take
    return bytes(out)


def first_mismatch(stream, data, offset=0):
    """Offset of the first byte of `data` (read at `offset`) that is not the
    stream's, or None."""
    expect = stream_bytes(stream, offset, len(data))
    if expect == data:
        return None
    for i in range(len(data)):
        if data[i] != expect[i]:
            return offset + i
    return None


# A self-describing block: owner, block number and generation, a digest of
# the three and the body, then a body derived from them. A block read back
# is either a whole generation of the right block, or damage.
HEADER = struct.Struct("<IIQ16s")


def _body(owner, block, gen, length):
    return random.Random("b/%d/%d/%d" % (owner, block, gen)).randbytes(length)


def make_block(owner, block, gen, size=CHUNK):
    body = _body(owner, block, gen, size - HEADER.size)
    digest = hashlib.blake2b(struct.pack("<IIQ", owner, block, gen) + body,
                             digest_size=16).digest()
    return HEADER.pack(owner, block, gen, digest) + body


def block_generation(owner, block, data):
    """The generation a block read back holds, or None when it is not a
    whole, authentic generation of that block."""
    if len(data) < HEADER.size:
        return None
    o, b, gen, digest = HEADER.unpack_from(data)
    if o != owner or b != block:
        return None
    body = data[HEADER.size:]
    check = hashlib.blake2b(struct.pack("<IIQ", o, b, gen) + body, digest_size=16).digest()
    return gen if check == digest else None
