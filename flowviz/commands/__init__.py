"""Subcommand glue beside `cli.py`: the options and handlers of commands that open windows or print reports."""
