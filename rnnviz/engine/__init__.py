"""The engine: a run's settings, the cells, the model, training and the instrumented replay."""
