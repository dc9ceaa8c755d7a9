"""Run the controllers on a trace: Sluice, KEDA as shipped and as tuned, the oracle."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import Any

from sluice_scaling.spec import ScalingSpec

from .controllers import KedaController, OracleController, SluiceController
from .engine import Controller, Sim, SimConfig
from .report import Result, summarise
from .traces import Trace

POLICIES = ("sluice", "keda", "keda-tuned", "oracle")


def sluice_spec(config: SimConfig, **fields: Any) -> ScalingSpec:
    """The JobQueue defaults (plus ``fields``), with the workload's target and ceiling."""
    return ScalingSpec.model_validate(
        {"maxReplicas": config.max_replicas, "latencyTargetSeconds": config.latency_target_s,
         "workerStartupSeconds": config.startup_s, **fields}
    )  # fmt: skip


def config_for(trace: Trace, config: SimConfig) -> SimConfig:
    if trace.max_replicas is not None:
        config = replace(config, max_replicas=trace.max_replicas)
    if trace.startup_s is not None:
        config = replace(config, startup_s=trace.startup_s)
    return config


def controllers(
    trace: Trace, config: SimConfig, names: tuple[str, ...], seed: int = 7
) -> list[Controller]:
    made: dict[str, Controller] = {}
    for name in names:
        if name == "sluice":
            made[name] = SluiceController(sluice_spec(config), rate_limit=trace.rate_limit)
        elif name == "sluice-reactive":  # pre-scaling off: sees a delayed job once it is due
            made[name] = SluiceController(
                sluice_spec(config), name, prescale=False, rate_limit=trace.rate_limit
            )
        elif name == "keda":
            made[name] = KedaController(config.max_replicas)
        elif name == "keda-tuned":
            mean = trace.mean_service_s(seed)
            made[name] = KedaController.tuned(config.max_replicas, config, mean)
        elif name == "oracle":
            capacity = trace.saturation.capacity if trace.saturation else None
            if trace.rate_limit is not None:  # the replicas the limit keeps busy, no more
                busy = trace.rate_limit * trace.mean_service_s(seed) / config.concurrency
                capacity = max(1, math.ceil(busy - 1e-9))
            made[name] = OracleController(trace.jobs(seed), config, capacity)
        else:
            raise KeyError(f"unknown policy {name!r}; use one of {', '.join(POLICIES)}")
    return [made[n] for n in names]


def run_trace(
    trace: Trace,
    config: SimConfig | None = None,
    names: tuple[str, ...] = POLICIES,
    duration_s: float | None = None,
    seed: int = 7,
) -> list[Result]:
    """Every named controller on one seed of ``trace``."""
    config = config_for(trace, config or SimConfig())
    duration = duration_s or trace.duration_s
    jobs = [j for j in trace.jobs(seed) if j.arrival < duration]
    results = []
    for controller in controllers(trace, config, names, seed):
        sim = Sim(jobs, config, controller, trace.saturation, trace.rate_limit)
        sim.run(duration)
        results.append(summarise(trace, sim, duration, seed))
    return results
