"""A checkpoint saved by plain PyTorch, opened in a real browser: rnnviz reads its LSTM, shows its gates, and the
numbers in the browser's heatmaps are the ones rnnviz.inspect gives for the same module and inputs."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn as nn

import rnnviz
from rnnviz import RunConfig, load_dataset
from tests.browser import exceptions, shot, streamlit_server

pytestmark = pytest.mark.browser


class Forecaster(nn.Module):  # a model of the user's own, trained nowhere near rnnviz
    def __init__(self):
        super().__init__()
        torch.manual_seed(11)
        self.rnn = nn.LSTM(1, 12, batch_first=True)
        self.head = nn.Linear(12, 1)


def test_a_plain_pytorch_checkpoint_opens_shows_its_gates_and_the_numbers_of_inspect(browser, tmp_path):
    model = Forecaster()
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    with streamlit_server(RNNVIZ_DATA_DIR=str(tmp_path)) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(f"{url}/Gates?seq_len=20", timeout=120_000)
        page.get_by_label("Hidden units", exact=True).first.wait_for(timeout=60_000)
        bar = page.get_by_test_id("stSidebar")
        bar.get_by_text("Your checkpoint", exact=True).click()
        page.locator(".st-key-checkpoint_upload input[type=file]").set_input_files(
            {"name": "forecaster.pt", "mimeType": "application/octet-stream", "buffer": buf.getvalue()})
        bar.get_by_text("LSTM with 1 layer(s) of 12 units reading 1 feature(s) per step, a linear head of 1")\
            .wait_for(timeout=30_000)
        bar.get_by_role("button", name="Open it on sine").click()
        page.get_by_text("Opened forecaster.pt on sine: every page shows your model.").wait_for(timeout=60_000)
        page.locator(".js-plotly-plot").first.wait_for(timeout=60_000)
        page.wait_for_timeout(1500)
        z = page.evaluate("""() => {
            const el = document.querySelector('.js-plotly-plot');
            return el._fullData.filter(d => d.type === 'heatmap').map(d => Array.from(d.z, r => Array.from(r)));
        }""")
        assert not exceptions(page)
        shot(page, "checkpoint_gates")
    data = load_dataset(RunConfig(seq_len=20))
    B = 8  # the probe's samples (probe_size)
    view = rnnviz.inspect(model.rnn, data.x_val[:B], targets=data.y_val[:B], head=model.head)
    gates = view.gate_values()
    assert len(z) == len(gates) == 4  # input, forget, candidate, output of sample 0
    for shown, (name, values) in zip(z, gates.items(), strict=True):
        np.testing.assert_allclose(np.array(shown), values[0].T, atol=1e-5, err_msg=name)  # units x time
