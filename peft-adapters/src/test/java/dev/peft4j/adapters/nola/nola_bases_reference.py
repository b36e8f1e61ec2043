#!/usr/bin/env python3
"""Reference values of NOLA's frozen bases, written independently of the Java code.

Regenerate the constants of NolaBasesReferenceTest with:  python3 nola_bases_reference.py
It implements, from their specifications:
  - AdapterContext.layerSeed(seed): 64-bit FNV-style mix of the module path;
  - Philox4x32-10 (Salmon et al. 2011, Random123 word order), checked against Random123's
    known-answer vectors below;
  - CounterRandom's uniform stream layout: block b of stream s is philox(counter = (lo(b), hi(b),
    lo(s), hi(s)), key = (lo(seed), hi(seed))); word i of the stream is word i % 4 of block i // 4;
    uniform = (word >> 8) * 2^-24;
  - NolaBases: A0 on stream 0 with bound 1/sqrt(n); A_i on stream 1 at offset i*r*n with bound
    1/sqrt(k_A); B_j on stream 2 at offset j*m*r with bound 1/sqrt(k_B); value = float32((2u - 1) * bound).
and prints the float32 bit patterns the Java test compares with.
"""
import math
import struct

MASK32 = 0xFFFFFFFF
MASK64 = 0xFFFFFFFFFFFFFFFF


def philox4x32_10(ctr, key):
    c = list(ctr)
    k0, k1 = key
    for _ in range(10):
        p0 = 0xD2511F53 * c[0]
        p1 = 0xCD9E8D57 * c[2]
        c = [((p1 >> 32) ^ c[1] ^ k0) & MASK32, p1 & MASK32, ((p0 >> 32) ^ c[3] ^ k1) & MASK32, p0 & MASK32]
        k0 = (k0 + 0x9E3779B9) & MASK32
        k1 = (k1 + 0xBB67AE85) & MASK32
    return c


# Random123 kat_vectors for philox4x32_10
assert philox4x32_10([0, 0, 0, 0], [0, 0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
assert philox4x32_10([MASK32] * 4, [MASK32, MASK32]) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]


def layer_seed(seed, path):
    h = (seed * 0x9E3779B97F4A7C15) & MASK64
    for ch in path:
        h = ((h ^ ord(ch)) * 0x100000001B3) & MASK64
    return h ^ (h >> 31)


def uniform(seed, stream, index):
    block = index >> 2
    words = philox4x32_10([block & MASK32, block >> 32, stream & MASK32, (stream >> 32) & MASK32],
                          [seed & MASK32, seed >> 32])
    return (words[index & 3] >> 8) * 2.0 ** -24


def f32_bits(x):
    return struct.unpack('<I', struct.pack('<f', x))[0]


def value(seed, stream, offset, bound):
    return f32_bits((2.0 * uniform(seed, stream, offset) - 1.0) * bound)


def signed64(x):
    return x - (1 << 64) if x >= 1 << 63 else x


if __name__ == '__main__':
    seed, path, r, m, n, ka, kb = 42, 'layers.0.query', 3, 12, 10, 16, 8
    ls = layer_seed(seed, path)
    print('LAYER_SEED = %dL;' % signed64(ls))
    print('A0_FIRST = {%s};' % ', '.join('0x%08x' % value(ls, 0, e, 1 / math.sqrt(n)) for e in range(6)))
    # basis A_5, values 0..5 and the last value of the basis
    print('A5 = {%s};' % ', '.join('0x%08x' % value(ls, 1, 5 * r * n + e, 1 / math.sqrt(ka))
                                   for e in list(range(6)) + [r * n - 1]))
    print('B7 = {%s};' % ', '.join('0x%08x' % value(ls, 2, 7 * m * r + e, 1 / math.sqrt(kb))
                                   for e in list(range(6)) + [m * r - 1]))
