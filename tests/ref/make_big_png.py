#!/usr/bin/python3
"""make_big_png.py OUT W H - a W x H 8-bit grey PNG that is large decoded but small on disk
(a 9999 x 9999 one is about 145 KB): a dark field with a bright band in the middle half,
written with zlib row by row (no image library, no W x H buffer), for the memory test."""
import struct
import sys
import zlib


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def main():
    out, w, h = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    z = zlib.compressobj(9)
    dark = b"\0" + b"\x10" * w  # filter byte 0, then the row
    band = b"\0" + b"\x10" * (w // 4) + b"\xc0" * (w - w // 2) + b"\x10" * (w // 2 - w // 4)
    parts = [z.compress(band if h // 4 <= y < 3 * h // 4 else dark) for y in range(h)]
    parts.append(z.flush())
    ihdr = struct.pack(">IIBBBBB", w, h, 8, 0, 0, 0, 0)  # 8-bit grey, no interlace
    with open(out, "wb") as f:
        f.write(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", b"".join(parts)) + chunk(b"IEND", b""))


if __name__ == "__main__":
    main()
