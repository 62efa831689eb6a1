"""Data protection: erase and export a candidate, retention, CV links shared outside the team.

Defines nothing: the factory imports `webapp.privacy.routes` (as for the people package), so
the admin views can import the operations without loading these views.
"""
