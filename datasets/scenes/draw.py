"""Small numpy drawing primitives on a float32 RGB canvas (H, W, 3) in [0, 1].

Shapes are anti-aliased by a one-pixel soft edge and touch only their bounding box, so a scene of
a few dozen shapes on 64x64 pixels renders in about a millisecond.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

Color = Sequence[float]
_COORD = np.arange(1024, dtype=np.float32) + 0.5  #: pixel centres


def _unit(x: np.ndarray) -> np.ndarray:
    """``x`` clipped to [0, 1] in place (faster than np.clip on small arrays)."""
    np.maximum(x, 0.0, out=x)
    return np.minimum(x, 1.0, out=x)


def _box(img: np.ndarray, y0: float, y1: float, x0: float, x1: float
         ) -> tuple[slice, slice, np.ndarray, np.ndarray] | None:
    h, w = img.shape[:2]
    r0, r1 = max(int(np.floor(y0)) - 1, 0), min(int(np.ceil(y1)) + 2, h)
    c0, c1 = max(int(np.floor(x0)) - 1, 0), min(int(np.ceil(x1)) + 2, w)
    if r0 >= r1 or c0 >= c1:
        return None
    return slice(r0, r1), slice(c0, c1), _COORD[r0:r1, None], _COORD[None, c0:c1]


def _blend(img: np.ndarray, rows: slice, cols: slice, alpha: np.ndarray, color: Color) -> None:
    a = _unit(np.asarray(alpha, dtype=np.float32))[..., None]
    region = img[rows, cols]
    region += a * (np.asarray(color, dtype=np.float32) - region)


def rect(img: np.ndarray, y0: float, y1: float, x0: float, x1: float, color: Color) -> None:
    """Axis-aligned rectangle [y0, y1) x [x0, x1)."""
    b = _box(img, y0, y1, x0, x1)
    if b is None:
        return
    rows, cols, yy, xx = b
    ay = _unit(np.minimum(yy - y0, y1 - yy) + 0.5)
    ax = _unit(np.minimum(xx - x0, x1 - xx) + 0.5)
    _blend(img, rows, cols, ay * ax, color)


def ellipse(img: np.ndarray, cy: float, cx: float, ry: float, rx: float, color: Color) -> None:
    """Filled axis-aligned ellipse."""
    ry, rx = max(ry, 0.3), max(rx, 0.3)
    b = _box(img, cy - ry, cy + ry, cx - rx, cx + rx)
    if b is None:
        return
    rows, cols, yy, xx = b
    d = np.sqrt(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2)
    _blend(img, rows, cols, (1.0 - d) * min(ry, rx) + 0.5, color)


def circle(img: np.ndarray, cy: float, cx: float, r: float, color: Color) -> None:
    ellipse(img, cy, cx, r, r, color)


def line(img: np.ndarray, y0: float, x0: float, y1: float, x1: float, width: float,
         color: Color) -> None:
    """A segment of the given width with round caps."""
    half = width / 2
    b = _box(img, min(y0, y1) - half, max(y0, y1) + half, min(x0, x1) - half, max(x0, x1) + half)
    if b is None:
        return
    rows, cols, yy, xx = b
    dy, dx = y1 - y0, x1 - x0
    length2 = dy * dy + dx * dx
    t = np.zeros_like(yy * xx) if length2 == 0 else _unit(
        ((yy - y0) * dy + (xx - x0) * dx) / length2)
    d = np.sqrt((yy - y0 - t * dy) ** 2 + (xx - x0 - t * dx) ** 2)
    _blend(img, rows, cols, half - d + 0.5, color)


def polygon(img: np.ndarray, points: Sequence[tuple[float, float]], color: Color) -> None:
    """Filled convex polygon; ``points`` are (y, x) in either winding order."""
    pts = np.asarray(points, dtype=np.float32)
    b = _box(img, pts[:, 0].min(), pts[:, 0].max(), pts[:, 1].min(), pts[:, 1].max())
    if b is None:
        return
    rows, cols, yy, xx = b
    n = len(pts)
    area = sum(pts[i, 1] * pts[(i + 1) % n, 0] - pts[(i + 1) % n, 1] * pts[i, 0]
               for i in range(n))
    sign = 1.0 if area > 0 else -1.0
    inside = np.full(np.broadcast_shapes(yy.shape, xx.shape), np.inf, dtype=np.float32)
    for i in range(n):
        (ya, xa), (yb, xb) = pts[i], pts[(i + 1) % n]
        ey, ex = yb - ya, xb - xa
        norm = float(np.hypot(ey, ex)) or 1.0
        dist = sign * ((xx - xa) * ey - (yy - ya) * ex) / norm  # > 0 inside
        inside = np.minimum(inside, dist)
    _blend(img, rows, cols, inside + 0.5, color)


def vgradient(img: np.ndarray, y0: int, y1: int, top: Color, bottom: Color) -> None:
    """Rows [y0, y1) filled with a vertical gradient from ``top`` to ``bottom``."""
    y0, y1 = max(int(y0), 0), min(int(y1), img.shape[0])
    if y1 <= y0:
        return
    t = np.linspace(0.0, 1.0, y1 - y0, dtype=np.float32)[:, None, None]
    top_a, bottom_a = np.asarray(top, np.float32), np.asarray(bottom, np.float32)
    img[y0:y1] = top_a + t * (bottom_a - top_a)


def wavy_band(img: np.ndarray, y_top: np.ndarray, y_bottom: float, color: Color) -> None:
    """Fill from a per-column top edge ``y_top`` (W,) down to ``y_bottom``."""
    h, w = img.shape[:2]
    yy = _COORD[:h, None]
    alpha = _unit(yy - y_top[None, :] + 0.5) * _unit(y_bottom - yy + 0.5)
    _blend(img, slice(0, h), slice(0, w), alpha, color)


def texture(img: np.ndarray, rng: np.random.Generator, y0: int, y1: int, strength: float,
            scale: int = 1) -> None:
    """Multiplicative luminance noise on rows [y0, y1), in blocks of ``scale`` pixels."""
    y0, y1 = max(int(y0), 0), min(int(y1), img.shape[0])
    if y1 <= y0:
        return
    w = img.shape[1]
    hh, ww = -(-(y1 - y0) // scale), -(-w // scale)
    noise = rng.standard_normal((hh, ww), dtype=np.float32) * np.float32(strength)
    if scale > 1:
        noise = np.repeat(np.repeat(noise, scale, 0), scale, 1)
    img[y0:y1] *= 1.0 + noise[: y1 - y0, :w, None]
