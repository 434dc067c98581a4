"""A network-namespace lab built from the compiled model: ``vendorwall lab up|deploy|test|down``.

See docs/lab.md. Every namespace of a lab is named ``vw<id>-...`` (``<id>`` is the lab id), and
everything the lab starts is recorded in ``build/lab/<inventory>/state.json``, so ``lab down``
removes exactly what ``lab up`` created.
"""
