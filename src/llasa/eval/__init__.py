"""llasa.eval"""
