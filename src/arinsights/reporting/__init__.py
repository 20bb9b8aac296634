"""arinsights.reporting"""
