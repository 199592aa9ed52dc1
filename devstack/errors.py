"""The launcher's one exception: a condition the user has to hear about."""


class StackError(Exception):
    """The stack cannot start or has to stop; the message is meant for the user."""
