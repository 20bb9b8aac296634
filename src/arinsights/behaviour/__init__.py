"""arinsights.behaviour"""
