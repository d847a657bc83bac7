"""llasa.serve"""
