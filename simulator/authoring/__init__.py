"""Tools for module authors: `simulate modules check|graph|run|new` (docs/modules.md).

* :mod:`.check` finds every problem of a module set at once, as ``file:JSON-path: message``
  with a hint.
* :mod:`.graph` draws a module's state machine with Graphviz.
* :mod:`.trial` runs one module on a population and tabulates what happened in each state.
* :mod:`.starter` writes a small, valid module to start from.
"""
