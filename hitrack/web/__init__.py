"""hitrack.web"""
