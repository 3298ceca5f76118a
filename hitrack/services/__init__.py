"""hitrack.services"""
