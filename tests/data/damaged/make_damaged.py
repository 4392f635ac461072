#!/usr/bin/env python3
"""Writes the damaged traces of this folder, one per kind of damage, and EXPECTED: each
file's name and a part of the error message `pagesim trace info` and `pagesim replay` must
print for it (tests/damaged_traces_cli_test.cc reads both). Run from anywhere:

    python3 tests/data/damaged/make_damaged.py

Needs the `zstd`, `xz` and `gzip` tools (scripts/packages.txt). The files are small and
checked in; the script says how each was made.
"""
import gzip
import lzma
import os
import struct
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
MAGIC = b"\x89PGT\r\n\x1a\n"


def header(major=1, minor=1, flags=0, header_bytes=32, count=0):
    return MAGIC + struct.pack("<HHIII", major, minor, flags, header_bytes, 0) + struct.pack("<Q", count)


def zstd(payload):
    return subprocess.run(["zstd", "-q", "-c", "--check"], input=payload, stdout=subprocess.PIPE,
                          check=True).stdout


def champsim(ip, loads=(0, 0, 0, 0), stores=(0, 0)):
    return (struct.pack("<QBB2B4B", ip, 0, 0, 0, 0, 0, 0, 0, 0) + struct.pack("<2Q", *stores) +
            struct.pack("<4Q", *loads))


# Three accesses: R 0x1000 (tag 0c, zigzag(0x1000) = 0x2000 = 80 40), W 0x1008, R 0x1010.
RECORDS = bytes([0x0c, 0x80, 0x40, 0x0d, 0x10, 0x0c, 0x10])

FILES = {
    # Binary traces.
    "bad_magic.pgt": (b"\x89PGX\r\n\x1a\n" + bytes(24), "byte 3: bad magic"),
    "truncated_header.pgt": (header()[:20], "truncated header: the file ends after 20 of 32"),
    "newer_major.pgt": (header(major=2, minor=0) + zstd(RECORDS),
                        "byte 8: format version 2.0 is newer than this reader understands (1.x)"),
    "unknown_flags.pgt": (header(flags=4) + zstd(RECORDS), "byte 12: unknown flags 0x4"),
    "header_size.pgt": (header(header_bytes=8) + zstd(RECORDS), "byte 16: header size 8 is outside"),
    "no_data.pgt": (header(), "no compressed data after the header"),
    "truncated_frame.pgt": (header() + zstd(RECORDS * 50)[:-6],
                            "truncated: the file ends inside a zstd frame"),
    "bad_checksum.pgt": (header() + zstd(RECORDS)[:-1] + b"\x00", "corrupt compressed data"),
    "count_mismatch.pgt": (header(count=5) + zstd(RECORDS),
                           "the header says 5 records but the stream holds 3"),
    "reserved_tag_bits.pgt": (header() + zstd(RECORDS + bytes([0x2c, 0x00])),
                              "record 3 (decoded byte 7): tag 0x2c: reserved bits 5-7 are set"),
    "cut_record.pgt": (header() + zstd(RECORDS + bytes([0x0c, 0x80])),
                       "record 3 (decoded byte 7): the stream ends in the middle of a record"),
    "unknown_event_op.pgt": (header() + zstd(RECORDS + bytes([0xff, 0x00])),
                             "tag 0xff: event op 63 is not defined"),
    "long_varint.pgt": (header() + zstd(bytes([0x0c]) + b"\xff" * 10 + b"\x01"),
                        "garbage address varint: more than 64 bits"),
    # Text traces.
    "bad_kind.trace": (b"R 0x1000\nQ 0x2000\n", ":2: expected an access kind R, W or X, found 'Q'"),
    "bad_address.trace": (b"# x\nR 0x1000\nW 0x12g4\n", ":3: bad address '0x12g4'"),
    "wide_address.trace": (b"R 0x10000000000000000\n", ":1: address '0x10000000000000000' does not fit in 64 bits"),
    "zero_size.trace": (b"R 0x1000 0\n", ":1: size 0: an access has at least 1 byte"),
    "bad_event.trace": (b"R 0x1000\n!memslot add 1 0x1001 4096\n", ":2: '!memslot add': memslot GPA is not a multiple of 4 KiB"),
    "garbage.trace": (bytes(range(1, 256)), ":1: expected an access kind R, W or X"),
    # CSV traces.
    "bad_address.csv": (b"address,kind\n0x1000,R\nzz,W\n", ":3: bad address 'zz'"),
    "cpu256.csv": (b"0x1000,R,8,256\n", ":1: cpu 256 is not below 256"),
    "too_many_fields.csv": (b"0x1000,R,8,0,1,2\n", ":1: more than 5 fields"),
    "bad_header.csv": (b"addr,kind\n0x1,R\n", ":1: header column 1 is 'addr', expected 'address'"),
    # ChampSim traces.
    "truncated.champsim": (champsim(0x401000, loads=(0x1000, 0, 0, 0)) + champsim(0x401004)[:17],
                           "record 1 (decompressed byte 64): truncated: the trace ends 17 bytes"),
    "cut.champsimtrace.xz": (lzma.compress(b"".join(champsim(0x400000 + 4 * i) for i in range(64)))[:-20],
                             "(xz data): truncated: the file ends inside the compressed data"),
    "bad_crc.champsimtrace.gz": (None, "(gzip data): corrupt compressed data (incorrect data check)"),
    "garbage_after.champsim.gz": (gzip.compress(champsim(0x400000), mtime=0) + b"junk",
                                  "(gzip data): garbage after the end of the gzip data"),
}


def bad_crc_gzip():
    data = bytearray(gzip.compress(b"".join(champsim(0x400000 + 4 * i) for i in range(8)), mtime=0))
    data[-8] ^= 1  # the CRC32 in the trailer
    return bytes(data)


def main():
    expected = []
    for name, (content, message) in sorted(FILES.items()):
        if content is None:
            content = bad_crc_gzip()
        with open(os.path.join(HERE, name), "wb") as f:
            f.write(content)
        expected.append(f"{name}\t{message}\n")
    with open(os.path.join(HERE, "EXPECTED"), "w") as f:
        f.write("# file<TAB>part of the error message (written by make_damaged.py)\n")
        f.writelines(expected)


if __name__ == "__main__":
    main()
