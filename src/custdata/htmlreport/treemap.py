"""Squarified treemap layout (Bruls, Huizing and van Wijk, 2000), for the RFM segment blocks."""

from __future__ import annotations

from collections.abc import Sequence

Rect = tuple[float, float, float, float]  # x, y, width, height


def squarify(values: Sequence[float], width: float, height: float) -> list[Rect]:
    """Rectangles tiling width x height with areas proportional to `values`, in the order
    of `values`: squarify([2, 1, 1], 4, 2) -> [(0, 0, 2, 2), (2, 0, 2, 1), (2, 1, 2, 1)].
    A value of 0 or less gets an empty rectangle at (0, 0).
    """
    total = float(sum(v for v in values if v > 0))
    if total <= 0:
        return [(0.0, 0.0, 0.0, 0.0) for _ in values]
    order = sorted((i for i in range(len(values)) if values[i] > 0), key=lambda i: -values[i])
    areas = [values[i] * width * height / total for i in order]
    placed = _layout(areas, 0.0, 0.0, float(width), float(height))
    rects: list[Rect] = [(0.0, 0.0, 0.0, 0.0)] * len(values)
    for i, rect in zip(order, placed):
        rects[i] = rect
    return rects


def _layout(areas: list[float], x: float, y: float, w: float, h: float) -> list[Rect]:
    rects: list[Rect] = []
    while areas:
        short = min(w, h)
        n = 1
        while n < len(areas) and _worst(areas[:n + 1], short) <= _worst(areas[:n], short):
            n += 1
        row, areas = areas[:n], areas[n:]
        size = sum(row)
        if w >= h:  # a column on the left
            col = size / h if h else 0.0
            top = y
            for a in row:
                rects.append((x, top, col, a / col if col else 0.0))
                top += rects[-1][3]
            x, w = x + col, w - col
        else:  # a row along the top
            band = size / w if w else 0.0
            left = x
            for a in row:
                rects.append((left, y, a / band if band else 0.0, band))
                left += rects[-1][2]
            y, h = y + band, h - band
    return rects


def _worst(row: Sequence[float], short: float) -> float:
    """The worst aspect ratio of `row` laid along a side of length `short`."""
    size = sum(row)
    if size <= 0 or short <= 0:
        return float("inf")
    return max(max(short * short * a / (size * size), size * size / (short * short * a))
               for a in row)
