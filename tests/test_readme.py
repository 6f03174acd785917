"""The README's Python examples run as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def python_blocks():
    return re.findall(r"```python\n(.*?)```", README.read_text(), flags=re.S)


def test_new_pde_example_runs_and_is_short():
    block = next(b for b in python_blocks() if "Problem(" in b)
    assert len([ln for ln in block.splitlines() if ln.strip()]) < 40
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)
    problem = namespace["cooling"]
    assert problem.with_params(amp=1.5).params["amp"] == 1.5
    assert namespace["result"].history["loss"][-1] < namespace["result"].history["loss"][0]
