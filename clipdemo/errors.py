"""The one exception type for problems a user can cause and fix."""


class InputError(ValueError):
    """A bad input (image, labels, template, model name): the message says what and what to do.

    The UI shows it as a visible message; the API returns it as an error; the CLI prints it.
    """


class ModelError(RuntimeError):
    """The model misbehaved (for example returned NaN): not the user's fault, but shown the same way."""
