"""arinsights.playbook"""
