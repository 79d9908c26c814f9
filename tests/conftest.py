"""Shared fixtures: tiny in-memory datasets for each task, so engine tests need no generator."""

from __future__ import annotations

import os
import tempfile

import pytest
import torch

# the run store of every test (and of the apps they start) lives in a throwaway folder, never the user's
os.environ.setdefault("RNNVIZ_DATA_DIR", tempfile.mkdtemp(prefix="rnnviz-tests-"))

from rnnviz import RunConfig, SequenceData, SequenceModel  # noqa: E402


def _tiny_data(task: str, n: int = 48, T: int = 7, seed: int = 0) -> SequenceData:
    """Random data of the right shapes: 3 features / 2 regression outputs / 3 classes / 5 tokens."""
    g = torch.Generator().manual_seed(seed)

    def xy(m: int):
        if task == "next_token":
            ids = torch.randint(5, (m, T + 1), generator=g)
            return ids[:, :-1], ids[:, 1:]  # (m, T) token ids in, the next token out
        x = torch.randn(m, T, 3, generator=g)
        if task == "classification":
            return x, torch.randint(3, (m,), generator=g)
        return x, torch.randn(m, 2, generator=g)

    (xt, yt), (xv, yv) = xy(n), xy(n // 2)
    sizes = {"regression": (3, 2), "classification": (3, 3), "next_token": (5, 5)}[task]
    return SequenceData(
        task=task, x_train=xt, y_train=yt, x_val=xv, y_val=yv, input_size=sizes[0], output_size=sizes[1],
        vocab=list("abcde") if task == "next_token" else None, baseline={}, description="test data",
    )


def _tiny_model(cell: str, task: str, num_layers: int = 1, **config) -> tuple[SequenceModel, SequenceData]:
    data = _tiny_data(task)
    cfg = RunConfig(cell=cell, hidden_size=6, num_layers=num_layers, seq_len=7, embedding_size=4, **config)
    return SequenceModel(cfg, data.input_size, data.output_size, task), data


@pytest.fixture
def tiny_data():
    """tiny_data(task, n=48, T=7, seed=0) -> SequenceData."""
    return _tiny_data


@pytest.fixture
def tiny_model():
    """tiny_model(cell, task, num_layers=1, **config) -> (SequenceModel with H = 6, its SequenceData)."""
    return _tiny_model


@pytest.fixture
def one_thread():
    """Small batches gain nothing from a second torch thread and lose a lot when the cores are shared."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for every browser test (tests/browser.py says which build)."""
    from playwright.sync_api import sync_playwright

    from tests.browser import launch

    with sync_playwright() as p:
        b = launch(p)
        yield b
        b.close()


@pytest.fixture(scope="session")
def local_ray():
    """One local Ray instance for every Ray test, started once (about 2 s here); skipped only when ray is not
    installed (requirements-ray.txt)."""
    ray = pytest.importorskip("ray")
    ray.init(num_cpus=2, include_dashboard=False)
    yield ray
    ray.shutdown()

