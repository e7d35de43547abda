"""Errors a user can act on. The CLI prints their message without a traceback."""


class FedcostError(Exception):
    """Base class: a problem the user can fix. CLI exit code 1."""

    exit_code = 1


class DataError(FedcostError):
    """Input data (a file, a dictionary, a policy) is unreadable or invalid."""


class UsageError(FedcostError):
    """The command was called wrongly (missing file, bad option). CLI exit code 2."""

    exit_code = 2


class DisclosureError(FedcostError):
    """A release would break the disclosure rules; nothing is released."""


class FederationError(FedcostError):
    """The federation could not run (too few hospitals, a refusal, a process failed)."""
