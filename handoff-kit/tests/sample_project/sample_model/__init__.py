"""A tiny project's own code, as a Handoff project holds it: contracts, model, training.

The kit's tests point [tool.handoff] of a project they build in a temporary
folder at this package.
"""
