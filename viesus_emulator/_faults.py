"""Seeded fault decisions: which GraphQL POST fails how, and which job ends in ERROR.

Separate random streams for requests and jobs keep each reproducible on its own: the same
seed and the same sequence of requests give the same faults, whatever the jobs do.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Literal

from viesus_emulator._config import FaultConfig

HttpFault = Literal["http_500", "http_429", "drop", "lost_response"]


@dataclass(frozen=True)
class FaultDecision:
    kind: HttpFault | None = None
    latency: float = 0.0


NO_FAULT = FaultDecision()


class FaultInjector:
    def __init__(self, seed: int) -> None:
        self._requests = random.Random(seed)  # noqa: S311 - simulation, not security
        self._jobs = random.Random(seed + 1)  # noqa: S311

    def decide(
        self, faults: FaultConfig, operation: str | None, root_fields: list[str]
    ) -> FaultDecision:
        """One draw for the HTTP fault, one for the latency, for an eligible request."""
        if faults.only_operations is not None and not (
            operation in faults.only_operations
            or any(name in faults.only_operations for name in root_fields)
        ):
            return NO_FAULT
        latency = 0.0
        if faults.latency_rate and self._requests.random() < faults.latency_rate:
            latency = faults.latency
        kind: HttpFault | None = None
        if faults.any_http_fault:
            draw = self._requests.random()
            threshold = 0.0
            candidates: tuple[tuple[HttpFault, float], ...] = (
                ("http_500", faults.http_500),
                ("http_429", faults.http_429),
                ("drop", faults.drop),
                ("lost_response", faults.lost_response),
            )
            for name, rate in candidates:
                threshold += rate
                if draw < threshold:
                    kind = name
                    break
        if kind is None and not latency:
            return NO_FAULT
        return FaultDecision(kind=kind, latency=latency)

    def job_fails(self, faults: FaultConfig) -> bool:
        return bool(faults.job_error_rate) and self._jobs.random() < faults.job_error_rate
