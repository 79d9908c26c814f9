"""The example notebook runs from top to bottom (executed with nbclient, as a reader would run it)."""

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_inspect_your_model_notebook_runs_and_its_model_remembers(tmp_path):
    nb = nbformat.read(ROOT / "examples" / "inspect_your_model.ipynb", as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "replay == the module's own outputs" in text
    accuracy = float(text.split("accuracy on fresh sequences ")[1].split()[0])
    assert accuracy > 0.9  # it learned to remember the first input 20 steps back
    assert "report.html" in text
