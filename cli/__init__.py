"""The `opsbot` command line: the product's second face and its test surface."""
