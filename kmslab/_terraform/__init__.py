"""kmslab's embedded Terraform applier: the bundled ``terraform/`` files, applied through boto3.

::

    from kmslab._terraform import Stack
    stack = Stack("terraform", session=session)  # parse and check now; ConfigurationError if refused
    print(stack.plan())                           # Terraform's plan text
    outputs = stack.apply()                       # progress lines like Terraform's; outputs as plain values
    stack.destroy()

It reads a subset of the Terraform language with python-hcl2 and supports the resource types and
data sources listed in :data:`RESOURCE_TYPES` and :data:`DATA_SOURCES`; everything else is refused
with the file, the line and the closest supported name. Of the ``provider "aws"`` block it applies
``default_tags { tags = ... }`` as the provider does (every taggable resource's ``tags_all`` is
those tags merged with its own ``tags``, its own winning; a change to them is an update in place)
and ignores the rest. Aliased provider blocks serve resources that name them (``provider =
aws.partner``): with the Stack's session when they are the same identity and region, with the
session given in ``Stack(..., providers={"partner": session})`` otherwise. See ``terraform/README.md``.
"""

from ._apply import Stack
from ._data import DATA_SOURCES
from ._plan import Plan
from ._resources import RESOURCE_TYPES
from ._state import State

__all__ = ["DATA_SOURCES", "RESOURCE_TYPES", "Plan", "Stack", "State"]
