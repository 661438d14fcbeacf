"""Prometheus metrics of one server (its own registry: two apps in a process never share counters)."""

from __future__ import annotations

import collections

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from rewardkit.types import RewardResult


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "rewardkit_serve_requests", "HTTP requests answered", ["route", "status"], registry=self.registry
        )
        self.seconds = Histogram(
            "rewardkit_serve_request_seconds",
            "time to answer a request",
            ["route"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
            registry=self.registry,
        )
        self.items = Counter(
            "rewardkit_serve_items",
            "completions scored, by outcome",
            ["env", "outcome"],
            registry=self.registry,
        )
        self.in_flight = Gauge("rewardkit_serve_in_flight", "requests being answered", registry=self.registry)

    def count(self, env: str, results: list[RewardResult]) -> None:
        outcomes = collections.Counter(
            "error" if result.error else "skipped" if result.score is None else "scored" for result in results
        )
        for outcome, count in outcomes.items():
            self.items.labels(env, outcome).inc(count)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
