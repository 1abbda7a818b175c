"""The outside: the command line, and (later) the HTTP service and web pages."""
