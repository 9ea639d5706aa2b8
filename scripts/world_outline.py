#!/usr/bin/env python3
"""Development-time generator for the dashboard's world outline (not run by tests or at run time).

Reads Natural Earth's land polygons (public domain) from npm ``world-atlas`` (TopoJSON,
1:110m) and writes one pre-projected SVG path (equirectangular, tenths of a degree:
x = (lon + 180) * 10, y = (90 - lat) * 10) to ``api/dashboard/static/world-land-110m.json``,
so the page needs no TopoJSON or projection library. Re-run after bumping world-atlas:

    mkdir -p /tmp/atlas && cd /tmp/atlas && npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python3 scripts/world_outline.py /tmp/atlas/package/land-110m.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

OUTPUT = Path(__file__).resolve().parent.parent / "api" / "dashboard" / "static" / "world-land-110m.json"
SOURCE = "Natural Earth 1:110m land (public domain), via npm world-atlas 2.0.2 land-110m.json"

Point = tuple[int, int]


def decode_arcs(topology: dict) -> list[list[tuple[float, float]]]:
    """Quantized, delta-encoded TopoJSON arcs → absolute (lon, lat) points."""
    (sx, sy), (tx, ty) = topology["transform"]["scale"], topology["transform"]["translate"]
    arcs = []
    for arc in topology["arcs"]:
        x = y = 0
        points = []
        for dx, dy in arc:
            x, y = x + dx, y + dy
            points.append((x * sx + tx, y * sy + ty))
        arcs.append(points)
    return arcs


def ring_points(ring: list[int], arcs: list[list[tuple[float, float]]]) -> list[Point]:
    """One ring (arc indexes, ~i = arc i reversed) projected to integer tenths of a degree."""
    points: list[Point] = []
    for index in ring:
        arc = arcs[index] if index >= 0 else arcs[~index][::-1]
        for lon, lat in arc[1:] if points else arc:
            point = (round((lon + 180) * 10), round((90 - lat) * 10))
            if not points or point != points[-1]:
                points.append(point)
    return points


def ring_path(points: list[Point]) -> str:
    """``M x y`` then relative ``l`` steps: short, and exact in integers. A ring that
    crosses the antimeridian (Russia, Fiji) is cut there into pieces, each filled on its
    own side, instead of drawing a line across the whole map."""
    if points[0] == points[-1]:
        points = points[:-1]
    crossings = [i for i in range(len(points)) if abs(points[i][0] - points[i - 1][0]) > 1800]
    if crossings:  # start at a crossing, so every piece is one whole run on one side
        points = points[crossings[0]:] + points[:crossings[0]]
    pieces: list[list[Point]] = [[points[0]]]
    for previous, point in zip(points, points[1:], strict=False):
        if abs(point[0] - previous[0]) > 1800:
            pieces.append([])
        pieces[-1].append(point)
    paths = []
    for piece in pieces:
        if len(piece) < 2:
            continue
        x0, y0 = piece[0]
        steps = [f"{x - px} {y - py}" for (px, py), (x, y) in zip(piece, piece[1:], strict=False)]
        paths.append(f"M{x0} {y0}l" + " ".join(steps) + "z")
    return "".join(paths)


def land_path(topology: dict) -> str:
    arcs = decode_arcs(topology)
    rings = []
    for geometry in topology["objects"]["land"]["geometries"]:
        polygons = geometry["arcs"] if geometry["type"] == "MultiPolygon" else [geometry["arcs"]]
        for polygon in polygons:
            for ring in polygon:
                points = ring_points(ring, arcs)
                if len(points) >= 3:
                    rings.append(ring_path(points))
    return "".join(rings)


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    topology = json.loads(Path(argv[1]).read_text())
    document = {"source": SOURCE, "projection": "equirectangular, x=(lon+180)*10, y=(90-lat)*10",
                "width": 3600, "height": 1800, "path": land_path(topology)}
    OUTPUT.write_text(json.dumps(document, separators=(",", ":")) + "\n")
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
