"""llasa.codec"""
