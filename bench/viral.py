"""A viral link, simulated: one link draws 5,000 clicks a second for ten minutes (issue 18).

Simulated time, no AWS: clicks arrive at --rate a second for --seconds; API Gateway's route
throttle for `GET /{code}` (a token bucket: rate and burst) lets some through; each one that
passes lands on one of --instances warm function instances (Lambda hands a request to any idle
one: chosen at random here), and each instance serves the page from its own page cache (the real
paylink.web.click.PageCache and keep_for, on the simulated clock) or reads the link item, one
GetItem on the link's key. Meanwhile 1 click in --conversion starts a payment, and the link
(--stock units) sells out at some point: from then on the checkout POST refuses (its conditional
reservation is authoritative), and the page must stop being offered within the cache's bound.

It prints, before (no page cache, the route throttle of 200 clicks/s) and after (the page cache of
template.yaml's PageCacheSeconds and its route throttle), the reads a second on the hottest key
(the link's item: one partition, ~6,000 eventually consistent reads of up to 4 KB a second before
any other traffic), clicks throttled, units sold (never more than the stock), and how long after
the sell-out the page was still offered.

    .venv/bin/python bench/viral.py                        # 5,000/s for 600 s, 60 instances
    .venv/bin/python bench/viral.py --seconds 60 --instances 500
"""

from __future__ import annotations

import argparse
import math
import random
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
sys.path[:0] = [str(ROOT), str(ROOT / "layers" / "paylink")]

from paylink.web.click import LinkView, PageCache, keep_for  # noqa: E402

PARTITION_READS = 6_000  # eventually consistent reads/s of one partition (3,000 RCU, items <= 4 KB)
BEFORE_THROTTLE = (200.0, 400.0)  # GET /{code} rate and burst before issue 18


@dataclass
class Scenario:
    name: str
    cache_seconds: float
    throttle: tuple[float, float]  # route rate (requests/s) and burst


@dataclass
class Outcome:
    reads: Counter[int] = field(default_factory=Counter)  # simulated second -> GetItems on the link
    clicks: int = 0
    throttled: int = 0
    sold: int = 0
    refused: int = 0  # payments started after the sell-out, refused by the conditional reservation
    sold_out_at: float | None = None
    last_offered: float | None = None  # the last time a 200 page was served after the sell-out


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def simulate(scenario: Scenario, *, rate: float, seconds: int, instances: int, stock: int,
             conversion: int, seed: int) -> Outcome:  # fmt: skip
    """One run of the burst; every random choice from `seed`, so before and after meet the same clicks."""
    rng = random.Random(seed)
    clock = Clock()
    caches = [PageCache(clock=clock) for _ in range(instances)]
    item: dict[str, Any] = {
        "code": "ViralLink123", "merchant_name": "Shop", "kind": "item", "title": "Scarf",
        "amount": 1_200_000, "max_payments": stock, "paid_count": 0,
    }  # fmt: skip
    out = Outcome()
    tokens, (route_rate, burst) = scenario.throttle[1], scenario.throttle
    gap = 1.0 / rate
    last = 0.0
    for n in range(int(rate * seconds)):
        now = clock.now = n * gap
        out.clicks += 1
        tokens = min(burst, tokens + (now - last) * route_rate)
        last = now
        if tokens < 1:
            out.throttled += 1
            continue
        tokens -= 1
        cache = caches[rng.randrange(instances)]
        status = cache.get(("ViralLink123", "fa"))
        if status is None:
            out.reads[int(now)] += 1
            link = LinkView(item)
            status = {"statusCode": 200 if link.status(_utc(now)) == "active" else 410, "headers": {}}
            cache.put(("ViralLink123", "fa"), status, keep_for(link, _utc(now), scenario.cache_seconds))
        if status["statusCode"] != 200:
            continue
        if out.sold_out_at is not None:
            out.last_offered = now
        if rng.randrange(conversion) == 0:  # a buyer starts a payment: the POST reads and reserves
            if item["paid_count"] < stock:
                item["paid_count"] += 1
                out.sold += 1
                if item["paid_count"] == stock:
                    out.sold_out_at = now
            else:
                out.refused += 1
    return out


def _utc(seconds: float) -> Any:
    from datetime import UTC, datetime, timedelta

    return datetime(2026, 12, 2, tzinfo=UTC) + timedelta(seconds=seconds)


def template_settings() -> tuple[float, tuple[float, float]]:
    """PageCacheSeconds' default and the GET /{code} route throttle, from template.yaml."""
    from local.template import load_template

    template = load_template()
    seconds = float(template["Parameters"]["PageCacheSeconds"]["Default"])
    route = template["Resources"]["HttpApi"]["Properties"]["RouteSettings"]["GET /{code}"]
    return seconds, (float(route["ThrottlingRateLimit"]), float(route["ThrottlingBurstLimit"]))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rate", type=float, default=5_000, help="clicks a second (default 5,000)")
    parser.add_argument("--seconds", type=int, default=600, help="length of the burst (default 600)")
    parser.add_argument("--instances", type=int, default=0,
                        help="warm instances (default: rate x 12 ms, Little's law)")  # fmt: skip
    parser.add_argument("--stock", type=int, default=20_000, help="units the link sells (default 20,000)")
    parser.add_argument("--conversion", type=int, default=50, help="1 click in N starts a payment (50)")
    parser.add_argument("--seed", type=int, default=18)
    args = parser.parse_args(argv)
    instances = args.instances or math.ceil(args.rate * 0.012)
    cache_seconds, throttle = template_settings()
    scenarios = [
        Scenario("before: no page cache, route 200/s", 0.0, BEFORE_THROTTLE),
        Scenario(f"before, throttle raised: no page cache, route {throttle[0]:,.0f}/s", 0.0, throttle),
        Scenario(
            f"after: page cache {cache_seconds:g} s, route {throttle[0]:,.0f}/s", cache_seconds, throttle
        ),
    ]
    print(f"{args.rate:,.0f} clicks/s for {args.seconds} s (simulated), {instances} warm instances, "
          f"stock {args.stock:,}, 1 in {args.conversion} clicks starts a payment")  # fmt: skip
    print()
    print("| scenario | hottest key reads/s (max) | mean | of a partition's ~6,000 | clicks throttled "
          "| sold (stock) | refused at POST | page offered after sell-out |")  # fmt: skip
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for scenario in scenarios:
        out = simulate(scenario, rate=args.rate, seconds=args.seconds, instances=instances,
                       stock=args.stock, conversion=args.conversion, seed=args.seed)  # fmt: skip
        peak = max(out.reads.values(), default=0)
        mean = sum(out.reads.values()) / args.seconds
        lag = (
            "never sold out" if out.sold_out_at is None
            else f"{(out.last_offered or out.sold_out_at) - out.sold_out_at:.2f} s"
        )  # fmt: skip
        print(f"| {scenario.name} | {peak:,} | {mean:,.1f} | {peak / PARTITION_READS:.1%} "
              f"| {out.throttled:,} ({out.throttled / out.clicks:.0%}) | {out.sold:,} ({args.stock:,}) "
              f"| {out.refused:,} | {lag} |")  # fmt: skip
        assert out.sold <= args.stock  # the conditional reservation never oversells
    print()
    print(f"bound: each instance reads the link at most once per {cache_seconds:g} s, so the hottest key "
          f"takes at most instances / {cache_seconds:g} = {instances / cache_seconds:,.1f} reads/s "
          f"whatever the click rate")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
