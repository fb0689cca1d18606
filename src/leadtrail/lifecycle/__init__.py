"""Data lifecycle: retention by whole monthly partitions, with optional Parquet archives."""
