"""Importing DeepXDE on the pytorch backend without letting it change torch's global defaults
(used by :mod:`pinndd.interop.deepxde` and :mod:`pinndd.interop.deepxde_problems`)."""

from __future__ import annotations

import contextlib
import io
import os

import torch

from ..errors import PinnddError


def import_deepxde():
    """``deepxde`` on the pytorch backend (set before import), torch's default device kept."""
    backend = os.environ.get("DDE_BACKEND")
    if backend not in (None, "", "pytorch"):
        raise PinnddError(f"pinndd's DeepXDE bridge needs the pytorch backend; DDE_BACKEND is {backend!r}. "
                          "Unset it or set DDE_BACKEND=pytorch")
    os.environ["DDE_BACKEND"] = "pytorch"
    device, dtype = torch.get_default_device(), torch.get_default_dtype()
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            import deepxde as dde
    except ImportError as e:
        raise PinnddError(f"DeepXDE is not installed ({e}); pip install 'pinndd[deepxde]' (or pip install deepxde)") from None
    finally:
        restore_torch_defaults(device, dtype)
    if dde.backend.backend_name != "pytorch":
        raise PinnddError(f"DeepXDE was already imported with the {dde.backend.backend_name!r} backend; "
                          "pinndd needs pytorch: set DDE_BACKEND=pytorch before importing deepxde")
    return dde


@contextlib.contextmanager
def quiet_float(dde, dtype: str):
    """DeepXDE's float type for a block; torch's global default dtype and device restored after,
    DeepXDE's prints silenced."""
    device, old = torch.get_default_device(), torch.get_default_dtype()
    try:
        with contextlib.redirect_stdout(io.StringIO()):
            dde.config.set_default_float(dtype)
            yield
    finally:
        restore_torch_defaults(device, old)


def restore_torch_defaults(device: torch.device, dtype: torch.dtype) -> None:
    """Put torch's default device and dtype back (without installing a device context when the
    default was the CPU: that would route every torch call through a Python hook)."""
    torch.set_default_dtype(dtype)
    if torch.get_default_device() != device:
        torch.set_default_device(None if device.type == "cpu" else device)
