"""People from mail: convert non-candidates, incoming CVs to candidates; candidate and offer pages.

The blueprint is defined in routes.py and registered by the factory, not imported here: the
conversation pane imports this package's boxes, queries and forms, and loading those must not
load the views, which render that pane.
"""
