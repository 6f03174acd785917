"""Command line: one verb per job.

``pinndd distil`` (a point set), ``train`` (a model), ``eval`` (a saved model against the
reference), ``ood`` (a set across a shift family), ``plot``, ``show``, ``list`` and ``run`` (the
main job: dense training against one method). Every verb takes a registered PDE or a user's own
(``--pde path/to/file.py:attr`` or ``module:attr``), ``--param name=value``, method settings
``--set key=value`` and a TOML config file (``--config``) whose keys the flags override.

Arguments are checked before anything trains: a bad one prints one line on stderr and exits
with status 2; Ctrl-C exits with 130. torch is imported only once a verb runs, so ``--help``
and argument errors are quick.
"""

from ._options import DEFAULTS, CliError, Job, method_settings, prepare, resolve_options
from ._parser import build_parser, main

__all__ = ["DEFAULTS", "CliError", "Job", "build_parser", "main", "method_settings", "prepare", "resolve_options"]
