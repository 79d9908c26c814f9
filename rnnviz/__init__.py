"""rnnviz: watch recurrent networks (RNN, LSTM, GRU) learn — states, gates and BPTT gradients."""

from rnnviz.datasets import DATASETS, DatasetError, SequenceData, load_dataset
from rnnviz.engine.config import ConfigError, RunConfig
from rnnviz.engine.model import SequenceModel
from rnnviz.engine.own import ModelError
from rnnviz.engine.record import Trace, replay
from rnnviz.engine.train import Run, TrainEvent, train, train_run
from rnnviz.views.inspection import Inspection, inspect

__all__ = [
    "ConfigError", "RunConfig", "DATASETS", "DatasetError", "SequenceData", "load_dataset",
    "SequenceModel", "Trace", "replay", "Run", "TrainEvent", "train", "train_run",
    "inspect", "Inspection", "ModelError",
]
