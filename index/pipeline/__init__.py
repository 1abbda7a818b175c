"""The engine's stages: photos decoded, registration, inspection, and the settings they follow.

May import: store, search, matching.
"""
