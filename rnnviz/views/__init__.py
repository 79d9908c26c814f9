"""What the pages show: analysis of traces, dynamics, metrics, text views, lessons and the plotly figures."""
