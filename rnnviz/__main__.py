"""`python -m rnnviz train | open | inspect | runs ...`: see rnnviz/cli.py."""

from rnnviz.cli import main

main(prog_name="python -m rnnviz")
