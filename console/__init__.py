"""The setup and operations console: a web UI over the core's AdminService, for operators.

It talks to the core only over gRPC (AdminService) and keeps no data of its own beyond the
sign-in session.
"""
