"""arinsights.ingest"""
