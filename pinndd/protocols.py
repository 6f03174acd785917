"""The benchmark protocols, fixed in one place for the CLI, experiments and every method.

- ``quick``: fits a 2-core CPU with one torch thread (MLP 3x32 tanh, Adam then L-BFGS).
- ``full``: PINNacle-like, for a GPU (MLP 5x100 tanh, 20 000 Adam steps).
- ``smoke``: seconds, for tests and for checking a pipeline end to end (numbers mean nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .errors import PinnddError
from .engine.training import TrainConfig


@dataclass(frozen=True)
class Protocol:
    """Training settings plus the dense-set size and the budgets a sweep uses."""

    name: str
    train: TrainConfig
    dense: int
    budgets: tuple[int, ...]
    seeds_small: int  # seeds at budgets up to 256
    seeds_large: int

    def seeds(self, budget: int) -> int:
        return self.seeds_small if budget <= 256 else self.seeds_large

    def config(self, **overrides) -> TrainConfig:
        return replace(self.train, **overrides)


PROTOCOLS: dict[str, Protocol] = {
    "quick": Protocol("quick", TrainConfig(width=32, depth=3, adam_steps=4000, lr=1e-3, lbfgs_steps=1000),
                      dense=4096, budgets=(64, 128, 256, 512), seeds_small=5, seeds_large=3),
    "full": Protocol("full", TrainConfig(width=100, depth=5, adam_steps=20000, lr=1e-3, lbfgs_steps=0),
                     dense=8192, budgets=(128, 256, 512, 1024), seeds_small=3, seeds_large=3),
    "smoke": Protocol("smoke", TrainConfig(width=8, depth=2, adam_steps=40, lr=1e-2, lbfgs_steps=0, progress=False),
                      dense=128, budgets=(16, 32), seeds_small=2, seeds_large=1),
}


def get(name: str) -> Protocol:
    if name not in PROTOCOLS:
        raise PinnddError(f"unknown protocol {name!r}; known: {list(PROTOCOLS)}")
    return PROTOCOLS[name]


def method_settings(name: str, proto: Protocol | str, device: str | None = None) -> dict:
    """Settings that tie a method's own training to the protocol (explicit settings override them).

    Labelled methods train their teacher with the protocol and its dense size; under ``smoke``
    warm-ups are as short as the protocol's training; methods that train on a device of their
    own (distillers) get ``device`` when it is given.

    Parameters
    ----------
    name:
        A registered method name.
    proto:
        A :class:`Protocol` or its name.
    device:
        ``"cpu"``/``"cuda"`` for methods with a ``device`` setting; ``None`` keeps their default.
    """
    import dataclasses

    from . import methods  # methods import this module lazily; keep the import here

    proto = get(proto) if isinstance(proto, str) else proto
    fields = {f.name for f in dataclasses.fields(methods.get(name))}
    out: dict = {}
    if "teacher_protocol" in fields:
        out.update(teacher_protocol=proto.name, teacher_dense=proto.dense)
    if proto.name == "smoke" and "warmup_steps" in fields:
        out["warmup_steps"] = proto.train.adam_steps
    if device is not None and "device" in fields:
        out["device"] = device
    return out
