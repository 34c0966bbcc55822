"""REST handlers: parse the request, call ``payloads`` off the event loop, write JSON."""
