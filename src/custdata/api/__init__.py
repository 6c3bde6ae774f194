"""custdata's workflows, callable from Python without the CLI.

Every command runs as one function of a module here, named after the command, taking a
`Session` (the store, config, key file, lock wait, today, and progress/message callbacks)
and returning plain results; the CLI only parses options and renders what comes back.
"""

from custdata.api.session import Session
from custdata.store import committed_operations
from custdata.store import translate_db_error as store_error_of

__all__ = ["Session", "committed_operations", "store_error_of"]
