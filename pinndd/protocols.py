"""The benchmark protocols, fixed in one place for the CLI, experiments and every method.

- ``quick``: fits a 2-core CPU with one torch thread (MLP 3x32 tanh, Adam then L-BFGS).
- ``full``: PINNacle-like, for a GPU (MLP 5x100 tanh, 20 000 Adam steps).
- ``smoke``: seconds, for tests and for checking a pipeline end to end (numbers mean nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from .engine.training import TrainConfig
from .errors import PinnddError


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
