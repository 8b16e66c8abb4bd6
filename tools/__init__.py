"""Tools the model can call. Each module registers its tools in `tools.registry` at import."""
