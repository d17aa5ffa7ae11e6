"""End-to-end workflows behind the CLI: the demo and a study run from a YAML file."""
