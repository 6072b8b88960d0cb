"""The repositories on SQLAlchemy Core, written once for every backend.

Each repository runs its statements through an `Executor`: the connection of a write
transaction, or (for reads outside one) a pooled connection checked out per statement.
"""
