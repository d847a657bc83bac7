"""llasa.lm"""
