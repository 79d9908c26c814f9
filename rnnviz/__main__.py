"""`python -m rnnviz runs list | export DIR | prune`: see rnnviz/cli.py."""

from rnnviz.cli import main

main(prog_name="python -m rnnviz")
