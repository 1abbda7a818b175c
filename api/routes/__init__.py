"""The HTTP routes, one module per resource; each parses, calls one service and maps to a schema."""
