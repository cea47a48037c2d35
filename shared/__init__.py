"""Plumbing shared by the Early Warning services: settings, schemas, bus, database."""
