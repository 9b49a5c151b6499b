"""Application commands: validate input, ask the domain, commit through the store, publish.

REST handlers, the CLI, the Socket.IO layer and the simulator call only these.
"""
