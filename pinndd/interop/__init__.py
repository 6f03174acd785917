"""Bridges to other PINN libraries, each imported only when used (``pinndd.interop.deepxde``)."""
