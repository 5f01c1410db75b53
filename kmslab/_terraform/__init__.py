"""kmslab's embedded Terraform applier: the bundled ``terraform/`` files, applied through boto3.

::

    from kmslab._terraform import Stack
    stack = Stack("terraform", session=session)  # parse and check now; ConfigurationError if refused
    print(stack.plan())                           # Terraform's plan text
    outputs = stack.apply()                       # progress lines like Terraform's; outputs as plain values
    stack.destroy()

It reads a subset of the Terraform language with python-hcl2 and supports the resource types and
data sources listed in :data:`RESOURCE_TYPES` and :data:`DATA_SOURCES`; everything else is refused
with the file, the line and the closest supported name. See ``terraform/README.md``.
"""

from ._apply import Stack
from ._data import DATA_SOURCES
from ._plan import Plan
from ._resources import RESOURCE_TYPES

__all__ = ["DATA_SOURCES", "RESOURCE_TYPES", "Plan", "Stack"]
