#!/usr/bin/env python3
"""Draws Chaski's PWA icons (client/public/icons/*.png) with nothing but the standard library.

The mark: a bold "C" with a quipu cord carrying three knots out through its opening: the Inca
knotted-cord record that chaski runners carried. Cream and amber on deep green stay legible on a
home screen in sunlight. Run from anywhere: python3 client/build/make-icons.py
"""

import math
import os
import struct
import zlib

GREEN = (0x0D, 0x4A, 0x33)
CREAM = (0xFD, 0xF6, 0xE3)
AMBER = (0xF5, 0xB7, 0x00)
SUPERSAMPLE = 4  # samples per axis per pixel, for smooth edges

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "public", "icons")


def in_round_rect(x, y, radius):
    """Inside the unit square with rounded corners."""
    cx = min(max(x, radius), 1 - radius)
    cy = min(max(y, radius), 1 - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def mark(x, y):
    """Colour of the mark at (x, y) in the unit square (mark centred on 0.5, 0.5), or None."""
    cx, cy = 0.47, 0.5  # a little left of centre: the cord balances it on the right
    r_out, r_in, gap = 0.34, 0.20, math.radians(38)
    dx, dy = x - cx, y - cy
    r = math.hypot(dx, dy)
    angle = abs(math.atan2(dy, dx))
    if r_in <= r <= r_out and angle >= gap:
        return CREAM
    r_mid, cap = (r_out + r_in) / 2, (r_out - r_in) / 2
    for sign in (-1, 1):  # rounded ends of the C
        ex, ey = cx + r_mid * math.cos(gap), cy + sign * r_mid * math.sin(gap)
        if (x - ex) ** 2 + (y - ey) ** 2 <= cap**2:
            return CREAM
    for kx in (cx + 0.03, cx + 0.19, cx + 0.35):  # knots
        if (x - kx) ** 2 + (y - cy) ** 2 <= 0.058**2:
            return AMBER
    half = 0.02  # the cord, with a rounded end
    end = cx + 0.42
    if cx - 0.02 <= x <= end and abs(y - cy) <= half:
        return AMBER
    if (x - end) ** 2 + (y - cy) ** 2 <= half**2:
        return AMBER
    return None


def render(size, scale, corner):
    """RGBA rows. `scale` shrinks the mark about the centre; `corner` rounds the background
    (None: full bleed, for maskable and Apple icons, whose platforms apply their own shape)."""
    rows = []
    n = SUPERSAMPLE
    for py in range(size):
        row = bytearray()
        for px in range(size):
            acc = [0, 0, 0, 0]
            for sy in range(n):
                for sx in range(n):
                    x = (px + (sx + 0.5) / n) / size
                    y = (py + (sy + 0.5) / n) / size
                    if corner is not None and not in_round_rect(x, y, corner):
                        continue
                    colour = mark(0.5 + (x - 0.5) / scale, 0.5 + (y - 0.5) / scale) or GREEN
                    acc[0] += colour[0]
                    acc[1] += colour[1]
                    acc[2] += colour[2]
                    acc[3] += 1
            if acc[3]:
                row += bytes((acc[0] // acc[3], acc[1] // acc[3], acc[2] // acc[3],
                              round(255 * acc[3] / (n * n))))
            else:
                row += b"\0\0\0\0"
        rows.append(bytes(row))
    return rows


def write_png(path, size, rows):
    def chunk(kind, data):
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\0" + row for row in rows)  # filter type 0 on every row
    png = (b"\x89PNG\r\n\x1a\n"
           + chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0))
           + chunk(b"IDAT", zlib.compress(raw, 9))
           + chunk(b"IEND", b""))
    with open(path, "wb") as f:
        f.write(png)
    print(f"{os.path.relpath(path)}: {size}x{size}, {len(png)} bytes")


def main():
    os.makedirs(OUT, exist_ok=True)
    # name, size, mark scale, background corner radius
    icons = [
        ("icon-192.png", 192, 1.0, 0.22),
        ("icon-512.png", 512, 1.0, 0.22),
        # Maskable: the platform may crop to a circle of radius 40% of the size; the mark's
        # farthest point (~0.39 from the centre at scale 1) scaled by 0.78 stays inside it.
        ("icon-maskable-512.png", 512, 0.78, None),
        ("apple-touch-icon.png", 180, 0.85, None),
    ]
    for name, size, scale, corner in icons:
        write_png(os.path.join(OUT, name), size, render(size, scale, corner))


if __name__ == "__main__":
    main()
