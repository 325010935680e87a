"""The compiled engine: a module set lowered to arrays and lived by a numba kernel
(docs/compiled-engine.md). The SimPy engine in simulator.engine is the reference it matches."""
