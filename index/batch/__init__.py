"""Work over many images: manifests and scan inputs, per-image report lines, scans on Ray.

May import: index.engine and the subpackages below it.
"""
