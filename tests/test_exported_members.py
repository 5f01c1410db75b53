"""The public surface is exactly ``__all__``, and every name in it exists."""

import kmslab


def test_all_names_exist_and_are_public():
    for name in kmslab.__all__:
        assert hasattr(kmslab, name), name
    public = {n for n in dir(kmslab) if not n.startswith("_") and not isinstance(getattr(kmslab, n), type(kmslab))}
    assert public == set(kmslab.__all__) - {"__version__"}


def test_exceptions_form_one_tree():
    for name in ("ConfigurationError", "HCLSyntaxError", "UnsupportedError", "ReferenceError_",
                 "ValidationError", "ApplyError", "CannotEvaluateError", "LabError"):
        assert issubclass(getattr(kmslab, name), kmslab.KmslabError)
    assert issubclass(kmslab.HCLSyntaxError, kmslab.ConfigurationError)
    assert issubclass(kmslab.ConfigurationError, ValueError)
