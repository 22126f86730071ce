"""Backing a table up: a parallel Scan streamed into data files, checkpoints, the manifest last."""
