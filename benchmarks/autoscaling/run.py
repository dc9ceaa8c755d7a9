"""Run the controllers on a trace: Sluice (defaults and tuned), the KEDA model, the oracle."""

from __future__ import annotations

from typing import Any

from sluice_scaling.spec import ScalingSpec

from .controllers import KedaController, OracleController, SluiceController
from .engine import Controller, Sim, SimConfig
from .report import Result, summarise
from .traces import Trace

# The knob a user with short jobs and a 30 s target would turn: run busier (their
# jobs are short next to the target, so a queue forms only briefly).
TUNED: dict[str, Any] = {"targetUtilization": 0.9}
POLICIES = ("sluice", "sluice-tuned", "keda", "oracle")


def sluice_spec(config: SimConfig, **fields: Any) -> ScalingSpec:
    """The JobQueue defaults (plus ``fields``), with the workload's target and ceiling."""
    return ScalingSpec.model_validate(
        {"maxReplicas": config.max_replicas, "latencyTargetSeconds": config.latency_target_s,
         **fields}
    )  # fmt: skip


def controllers(trace: Trace, config: SimConfig, names: tuple[str, ...]) -> list[Controller]:
    made: dict[str, Controller] = {}
    if "sluice" in names:
        made["sluice"] = SluiceController(sluice_spec(config))
    if "sluice-tuned" in names:
        made["sluice-tuned"] = SluiceController(sluice_spec(config, **TUNED), "sluice-tuned")
    if "keda" in names:
        made["keda"] = KedaController(config.max_replicas)
    if "oracle" in names:
        made["oracle"] = OracleController(trace.jobs(), config)
    return [made[n] for n in names]


def run_trace(
    trace: Trace,
    config: SimConfig | None = None,
    names: tuple[str, ...] = POLICIES,
    duration_s: float | None = None,
) -> list[Result]:
    config = config or SimConfig()
    duration = duration_s or trace.duration_s
    jobs = [j for j in trace.jobs() if j.arrival < duration]
    results = []
    for controller in controllers(trace, config, names):
        sim = Sim(jobs, config, controller)
        sim.run(duration)
        results.append(summarise(trace.name, sim, duration))
    return results
