"""The `sitoo-bloomreach` command: the entry point that composes edge, core and sandbox."""
