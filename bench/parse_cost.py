"""The parse stage's cost against the size of the query string: is it linear?

    python -m bench.parse_cost

For a few hostile shapes (``or=`` trees nested to the depth limit and repeated until the
query is N bytes, a flat ``or=`` of N/8 filters, N/7 separate filters, an ``in.(…)`` list,
a quoted value full of parentheses), the time of ``parse_request`` at 8 KiB and at 64 KiB
and the ratio. Linear parsing shows a ratio near 8 (the size ratio); a quadratic one near 64.
Bad input that is refused (400) counts too: refusing must be as cheap as parsing.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable

from api.rpc.errors import ApiError
from api.rpc.parse import MAX_LOGIC_DEPTH, HttpInput, parse_request

SMALL, LARGE = 8 * 1024, 64 * 1024


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


def seconds(query: str, repeat: int = 5) -> float:
    http = HttpInput("GET", "/rpc/f", query, {})
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        with contextlib.suppress(ApiError):
            parse_request(http, "f", ("api",))
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    print(f"{'shape':34} {'8 KiB ms':>9} {'64 KiB ms':>10} {'ratio':>6}  (linear ≈ 8)")
    for name, shape in SHAPES.items():
        small, large = seconds(shape(SMALL)), seconds(shape(LARGE))
        print(f"{name:34} {small * 1000:9.2f} {large * 1000:10.2f} {large / small:6.1f}")


if __name__ == "__main__":
    main()
