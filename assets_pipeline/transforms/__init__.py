"""Transforms: each edits the AssetDocument it is given, does no I/O and reads no globals."""
