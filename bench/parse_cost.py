"""The parse stage's cost against the size of the query string: is it linear?

    python -m bench.parse_cost

For a few hostile shapes (``or=`` trees nested to the depth limit and repeated until the
query is N bytes, a flat ``or=`` of N/7 filters, N/7 separate filters, an ``in.(…)`` list,
a quoted value full of parentheses), the best of 7 times of ``parse_request`` at 8, 16, 32
and 64 KiB, and the ratio 64 KiB / 8 KiB: near 8 (the size ratio) when parsing is linear,
near 64 when quadratic. Bad input that is refused (400) counts too: refusing must be as
cheap as parsing.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from api.errors import ApiError
from api.rpc.parse import MAX_LOGIC_DEPTH, HttpInput, parse_request

SIZES = (8 * 1024, 16 * 1024, 32 * 1024, 64 * 1024)


def nested(size: int) -> str:
    depth = MAX_LOGIC_DEPTH - 1
    tree = "and(" * depth + "a.eq.1" + ")" * depth
    return "or=(" + ",".join([tree] * max(1, size // (len(tree) + 1))) + ")"


def too_deep(size: int) -> str:
    depth = size // 5
    return "or=(" + "and(" * depth + "a.eq.1" + ")" * depth + ")"


SHAPES: dict[str, Callable[[int], str]] = {
    "nested trees at the depth limit": nested,
    "one tree too deep (400)": too_deep,
    "flat or=(…)": lambda n: "or=(" + ",".join(["a.eq.1"] * (n // 7)) + ")",
    "separate filters": lambda n: "&".join(["a=eq.1"] * (n // 7)),
    "in.(…) list": lambda n: "a=in.(" + ",".join(["1"] * (n // 2)) + ")",
    "quoted parentheses": lambda n: 'or=(a.eq."' + "()" * (n // 2) + '")',
}


def seconds(query: str, repeat: int = 7) -> float:
    http = HttpInput("GET", "/rpc/f", query, {})
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        with contextlib.suppress(ApiError):
            parse_request(http, "f", ("api",))
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    sizes = "".join(f"{size // 1024:>6} KiB" for size in SIZES)
    print(f"{'ms to parse':34}{sizes} {'64/8':>6}  (linear ≈ 8, quadratic ≈ 64)")
    for name, shape in SHAPES.items():
        times = [seconds(shape(size)) for size in SIZES]
        cells = "".join(f"{t * 1000:10.2f}" for t in times)
        print(f"{name:34}{cells} {times[-1] / times[0]:6.1f}")


if __name__ == "__main__":
    main()
