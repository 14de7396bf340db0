"""``python -m softgem.cli`` is the ``softgem`` command."""

from .main import main

main()
