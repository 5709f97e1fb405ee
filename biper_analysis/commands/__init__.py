"""Sub-commands of the ``biper-analysis`` CLI: one module each, with ``register(subparsers)`` and ``ORDER``."""
